from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.models import CeligoAccount, CeligoState, ErrorRecord
from dashboard.queries.export import csv_lines, iter_error_rows, jsonl_lines


class Command(BaseCommand):
    help = "Stream stored errors to stdout as JSON lines or CSV (constant memory, any row count)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("--status", choices=["open", "resolved", "all"], default="all")
        parser.add_argument("--account", help="an account's name")
        parser.add_argument("--flow-id", help="a Celigo flow id")
        parser.add_argument("--step-id", help="a Celigo export or import id")

    def handle(self, *args: Any, **options: Any) -> None:
        errors = ErrorRecord.objects.order_by("pk")
        if options["status"] != "all":
            errors = errors.filter(status=CeligoState(options["status"]))
        if options["account"]:
            account = CeligoAccount.objects.filter(name=options["account"]).first()
            if account is None:
                raise CommandError(f"no account named {options['account']!r}")
            errors = errors.filter(account=account)
        if options["flow_id"]:
            errors = errors.filter(celigo_flow_id=options["flow_id"])
        if options["step_id"]:
            errors = errors.filter(celigo_step_id=options["step_id"])
        lines = csv_lines if options["format"] == "csv" else jsonl_lines
        for line in lines(iter_error_rows(errors)):
            self.stdout.write(line, ending="")
        self.stdout.flush()
