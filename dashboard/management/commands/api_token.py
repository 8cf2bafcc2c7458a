"""``api_token create USERNAME [--scope read|write] [--expires-days N] [--name NAME]``, ``list``,
``revoke PREFIX_OR_ID``. ``create`` prints the token alone on its last line, so a script can take it with
``tail -n 1``."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from dashboard.actions.tokens import (
    MAX_EXPIRY_DAYS,
    TokenRejected,
    do_create_token,
    do_revoke_token,
    expiry_in,
)
from dashboard.models import ApiToken, TokenScope
from dashboard.models.api_tokens import TOKEN_MARK


class Command(BaseCommand):
    help = "Create, list and revoke REST API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token for a user; prints it on the last line")
        create.add_argument("username")
        create.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        create.add_argument("--expires-days", type=int, default=None, help=f"1 to {MAX_EXPIRY_DAYS} days")
        create.add_argument("--name", default="", help="what the token is for")
        listing = actions.add_parser("list", help="list tokens (prefixes only; secrets are not kept)")
        listing.add_argument("--user", default=None, help="only this user's tokens")
        revoke = actions.add_parser("revoke", help="revoke a token by its prefix or id")
        revoke.add_argument("token")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def handle_create(self, options: dict[str, Any]) -> None:
        User = get_user_model()
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist:
            raise CommandError(f"no user named {options['username']!r}") from None
        try:
            token, secret = do_create_token(
                None,
                user,
                scope=options["scope"],
                name=options["name"],
                expires_at=expiry_in(options["expires_days"]),
            )
        except TokenRejected as exc:
            raise CommandError(str(exc)) from None
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        self.stdout.write(
            f"Created the {token.scope} token {TOKEN_MARK}{token.prefix}… of {user} ({expiry})."
        )
        self.stdout.write("It is shown only now:")
        self.stdout.write(secret)

    def handle_list(self, options: dict[str, Any]) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "-created_at")
        if options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        for token in tokens:
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "never"
            self.stdout.write(
                f"{token.pk}\t{TOKEN_MARK}{token.prefix}\t{token.user}\t{token.scope}\t{token.state}\t"
                f"expires {expires}\tlast used {used}\t{token.name}"
            )

    def handle_revoke(self, options: dict[str, Any]) -> None:
        wanted = options["token"].strip().removeprefix(TOKEN_MARK).rstrip("…")
        match = Q(prefix=wanted)
        if wanted.isdecimal() and len(wanted) <= 18:
            match |= Q(pk=int(wanted))
        found = list(ApiToken.objects.select_related("user").filter(match)[:2])
        if len(found) != 1:
            raise CommandError(f"no single token with the prefix or id {options['token']!r}")
        token = found[0]
        if do_revoke_token(None, token):
            self.stdout.write(f"Revoked {TOKEN_MARK}{token.prefix}… of {token.user}.")
        else:
            self.stdout.write(f"{TOKEN_MARK}{token.prefix}… of {token.user} was already revoked.")
