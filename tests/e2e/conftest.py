"""Browser tests: Playwright drives the machine's Chromium (never a downloaded one) against live_server."""

import os
import shutil

import django.contrib.staticfiles.handlers
import pytest
from django.test.testcases import _StaticFilesHandler

from tests.conftest import unavailable

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the test body are
# still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# pytest-django's live server serves /static/ through the staticfiles finders, which know nothing of the
# hashed names the manifest storage puts in pages. Serve the collected files instead, as production does.
django.contrib.staticfiles.handlers.StaticFilesHandler = _StaticFilesHandler  # type: ignore[misc]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    return {**browser_type_launch_args, "executable_path": path, "args": CHROMIUM_ARGS, "headless": True}


def pytest_runtest_setup(item):
    """Without Chromium a browser test skips (fails under CI=true) before any fixture runs: the session's
    browser fixture would otherwise try to launch it first and end the test in an error."""
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not shutil.which(path):
        unavailable(f"Chromium not found at {path} (install it, or set CHROMIUM_PATH)")


@pytest.fixture
def logged_in_page(page, live_server, django_user_model):
    django_user_model.objects.create_user("triager", password="a-long-passphrase-1")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("triager")
    page.get_by_label("Password").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page
