import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

app = Celery("dashboard")
# Every CELERY_* Django setting configures the app (cookiecutter-django's wiring).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
