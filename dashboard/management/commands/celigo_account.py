import getpass
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.accounts.connect import TokenCheckFailed, add_account
from dashboard.models import CeligoAccount, Region


class Command(BaseCommand):
    help = "Connect, list and remove Celigo accounts. Tokens are never read from the command line."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="check a token and connect an account")
        add.add_argument("name")
        where = add.add_mutually_exclusive_group()
        where.add_argument("--region", choices=Region.values, default=None)
        where.add_argument("--base-url", default=None)
        add.add_argument(
            "--token-file",
            type=Path,
            help="read the token from this file (else CELIGO_API_TOKEN, else a prompt)",
        )
        add.add_argument("--sandbox", action="store_true")
        add.add_argument("--rate-burst", type=int, default=100)
        add.add_argument("--rate-per-second", type=float, default=30.0)
        add.add_argument("--sync-interval", type=int, default=120, help="seconds between incremental syncs")
        actions.add_parser("list", help="list connected accounts (tokens masked)")
        remove = actions.add_parser("remove", help="disconnect an account and delete its stored errors")
        remove.add_argument("name")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def read_token(self, token_file: Path | None) -> str:
        if token_file is not None:
            try:
                return token_file.read_text().strip()
            except OSError as exc:
                raise CommandError(f"cannot read --token-file: {exc.strerror}") from None
        if os.environ.get("CELIGO_API_TOKEN", "").strip():
            return os.environ["CELIGO_API_TOKEN"].strip()
        return getpass.getpass("Celigo API token (input hidden): ").strip()

    def handle_add(self, options: dict[str, Any]) -> None:
        name = options["name"]
        if CeligoAccount.objects.filter(name=name).exists():
            raise CommandError(f"an account named {name!r} already exists")
        token = self.read_token(options["token_file"])
        if not token:
            raise CommandError("no token given")
        if options["rate_burst"] < 1 or options["rate_per_second"] < 0.1 or options["sync_interval"] < 10:
            raise CommandError(
                "--rate-burst must be >= 1, --rate-per-second >= 0.1 and --sync-interval >= 10"
            )
        try:
            account = add_account(
                name,
                token,
                region=options["region"],
                base_url=options["base_url"],
                sandbox=options["sandbox"],
                rate_burst=options["rate_burst"],
                rate_per_second=options["rate_per_second"],
                sync_interval_seconds=options["sync_interval"],
            )
        except TokenCheckFailed as exc:
            raise CommandError(f"token check failed: {exc}") from None
        self.stdout.write(
            f"Connected {account.name} ({account.endpoint}, token {account.masked_token}); "
            f"syncing every {account.sync_interval_seconds} s."
        )

    def handle_list(self, options: dict[str, Any]) -> None:
        accounts = CeligoAccount.objects.all()
        if not accounts:
            self.stdout.write("No Celigo accounts connected.")
            return
        for account in accounts:
            status = account.get_status_display()
            if account.status_message:
                status += f": {account.status_message}"
            self.stdout.write(f"{account.name}\t{account.endpoint}\ttoken {account.masked_token}\t{status}")

    def handle_remove(self, options: dict[str, Any]) -> None:
        account = CeligoAccount.objects.filter(name=options["name"]).first()
        if account is None:
            raise CommandError(f"no account named {options['name']!r}")
        count = account.errors.count()
        account.delete()
        self.stdout.write(f"Removed {options['name']} and its {count} stored errors.")
