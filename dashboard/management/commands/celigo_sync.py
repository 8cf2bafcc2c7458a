import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from celigo_api import RateLimited
from dashboard.models import CeligoAccount, SyncOutcome, SyncRun
from dashboard.outbox.runner import push_pending_batches
from dashboard.sync.run import RESUMING, SyncBusy, sync_account


def run_summary(run: SyncRun) -> dict[str, Any]:
    return {
        "account": run.account.name,
        "kind": run.kind,
        "outcome": run.outcome,
        "started_at": run.started_at.isoformat(),
        "seconds": round(run.duration_seconds or 0.0, 3),
        "api_calls": run.api_calls,
        "rate_limited": run.rate_limited,
        "steps_pulled": run.steps_pulled,
        "errors_new": run.errors_new,
        "errors_updated": run.errors_updated,
        "errors_closed": run.errors_closed,
        "errors_purged": run.errors_purged,
        "errors_malformed": run.errors_malformed,
        "notes": run.notes,
        "failure": run.failure_message,
    }


RESUMED = RESUMING.split("{", 1)[0]  # "the previous sync of …", said before the summary's numbers


class Command(BaseCommand):
    help = "Push pending actions to Celigo, then sync accounts, in this process; non-zero exit on failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="the account's name (default: every enabled account)")
        parser.add_argument(
            "--full", action="store_true", help="a full reconcile instead of an incremental sync"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object per account")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = CeligoAccount.objects.filter(enabled=True)
        if options["account"]:
            accounts = CeligoAccount.objects.filter(name=options["account"])
            if not accounts:
                raise CommandError(f"no account named {options['account']!r}")
        if not accounts:
            raise CommandError("no Celigo account is connected (python manage.py celigo_account add …)")
        failed = []
        for batch, result in push_pending_batches():
            self.stderr.write(f"action batch #{batch.pk} ({batch.get_kind_display()}): {result}")
        for account in accounts:
            try:
                run = sync_account(account, full=True if options["full"] else None)
            except SyncBusy as exc:
                failed.append(account.name)
                self.stderr.write(f"{account.name}: {exc}")
                continue
            except RateLimited as exc:
                failed.append(account.name)
                self.stderr.write(f"{account.name}: rate limited; try again in {exc.retry_after or 0:.0f} s")
                continue
            summary = run_summary(run)
            if options["json"]:
                self.stdout.write(json.dumps(summary))
            else:
                self.stdout.write(
                    f"{account.name}: {run.kind} sync {run.outcome} in {summary['seconds']} s — "
                    f"{run.api_calls} API calls, {run.errors_new} new, {run.errors_updated} updated, "
                    f"{run.errors_closed} closed, {run.errors_purged} purged"
                    + (f", {run.errors_malformed} malformed" if run.errors_malformed else "")
                    + "".join(f"\n  {note}" for note in run.notes if note.startswith(RESUMED))
                    + (f"\n  {run.failure_message}" if run.failure_message else "")
                )
            if run.outcome != SyncOutcome.SUCCEEDED:
                failed.append(account.name)
        if failed:
            raise CommandError(f"sync failed for: {', '.join(failed)}")
