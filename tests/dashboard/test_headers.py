"""Response headers: the Content-Security-Policy, and HTTPS-only behaviour behind a TLS proxy.

The policy allows only our own scripts and styles, so the templates must carry no inline script, style
attribute or htmx expression that needs eval; the template scan below keeps them out, and
tests/e2e/test_csp.py checks a real browser reports no violation.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["login", "home", "error-list"])
def test_every_page_allows_only_our_own_scripts_and_styles(admin_client, name):
    directives = policy(admin_client.get(reverse(name)))
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT / "templates")))
def test_no_template_needs_inline_script_inline_style_or_eval(path):
    text = path.read_text()
    inline_scripts = [tag for tag in re.findall(r"<script\b[^>]*>", text) if "src=" not in tag]
    assert not [tag for tag in inline_scripts if "application/json" not in tag], "inline <script>"
    assert "<style" not in text, "inline <style>"
    assert not re.search(r"\sstyle=", text), "style attribute"
    assert not re.search(r"\s(on[a-z]+|hx-on[:\w-]*)=", text), "inline event handler"
    assert not re.search(r'hx-trigger="[^"]*\[', text), "htmx trigger filter (needs eval)"
    assert not re.search(r"hx-(vals|vars)='[^']*js:", text), "htmx js: values (need eval)"


def settings_under(env: dict[str, str], *names: str) -> dict[str, object]:
    """Settings as a fresh process reads them from ``env``."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {list(names)!r}}}))"
    )
    base = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "dashboard.settings", "DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


HTTPS_SETTINGS = (
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
)


def test_behind_a_tls_proxy_it_redirects_to_https_sends_hsts_and_secures_its_cookies(tmp_path):
    values = settings_under(
        {"BEHIND_TLS_PROXY": "true", "ERROR_DESK_VAR_DIR": str(tmp_path)}, *HTTPS_SETTINGS
    )
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_without_a_tls_proxy_it_serves_plain_http(tmp_path):
    values = settings_under({"ERROR_DESK_VAR_DIR": str(tmp_path)}, *HTTPS_SETTINGS)
    assert values == {
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


BEHIND_PROXY = override_settings(
    SECURE_SSL_REDIRECT=True,
    SECURE_HSTS_SECONDS=31_536_000,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
)


@pytest.mark.django_db
@BEHIND_PROXY
def test_behind_the_proxy_plain_http_is_redirected_but_the_health_check_answers(client):
    login = client.get("/login/")
    assert login.status_code == 301
    assert login["Location"] == "https://testserver/login/"
    assert client.get("/healthz").status_code in (200, 503)  # a probe inside the container speaks HTTP


@pytest.mark.django_db
@BEHIND_PROXY
def test_behind_the_proxy_https_pages_carry_hsts_and_secure_cookies(client):
    response = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000"
    assert response.cookies["csrftoken"]["secure"] is True
