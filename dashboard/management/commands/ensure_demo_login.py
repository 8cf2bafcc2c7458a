import json
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"


def demo_login_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-login.json"


class Command(BaseCommand):
    help = "Create the demo login when no user exists yet, and print the login to use (as JSON)."

    def handle(self, *args: object, **options: object) -> None:
        users = get_user_model().objects
        path = demo_login_file()
        if not users.exists():
            password = secrets.token_urlsafe(12)
            users.create_superuser(DEMO_USERNAME, email="", password=password)
            path.write_text(json.dumps({"username": DEMO_USERNAME, "password": password}))
            path.chmod(0o600)
        if path.exists() and users.filter(username=DEMO_USERNAME).exists():
            login = json.loads(path.read_text())
        else:
            login = {"username": None, "password": None}
        self.stdout.write(json.dumps(login))
