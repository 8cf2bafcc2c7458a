from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Error Desk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dashboard.schedules import ensure_periodic_tasks

        post_migrate.connect(ensure_periodic_tasks, sender=self)
