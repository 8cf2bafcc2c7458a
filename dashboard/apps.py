from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Error Desk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the tasks in every process, so services that queue them by name (dashboard.celery.enqueue)
        # get the task's own options and eager mode, not a bare message.
        from dashboard import tasks  # noqa: F401
        from dashboard.accounts import schedules

        post_migrate.connect(schedules.ensure_periodic_tasks, sender=self)
        account = self.get_model("CeligoAccount")

        def follow_account(sender: Any, instance: Any, raw: bool = False, **_: Any) -> None:
            if not raw:
                schedules.ensure_account_schedule(instance)

        def drop_account(sender: Any, instance: Any, **_: Any) -> None:
            schedules.remove_account_schedule(instance)

        post_save.connect(follow_account, sender=account, weak=False, dispatch_uid="account-schedule")
        post_delete.connect(drop_account, sender=account, weak=False, dispatch_uid="account-unschedule")
