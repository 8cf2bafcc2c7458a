import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import OperationalError
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC_PATHS = {"/login/", "/healthz", "/admin/login/"}


def concrete_paths(resolver=None, prefix=""):
    """Every URL of the project that takes no arguments (admin and its sub-sites included)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "<" in pattern or "(?P" in pattern:
                continue
            yield from concrete_paths(entry, prefix + pattern.lstrip("^"))
        elif isinstance(entry, URLPattern) and "<" not in pattern and "(?P" not in pattern:
            yield "/" + prefix + pattern.lstrip("^").rstrip("$").replace("\\Z", "")


@pytest.mark.django_db
def test_it_reports_healthy_parts(client, admin_user):
    client.force_login(admin_user)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {"database", "broker"} <= set(body["parts"])
    assert all(part["ok"] for part in body["parts"].values())


@pytest.mark.django_db
def test_it_answers_503_naming_redis_when_redis_is_unreachable(client, settings, admin_user):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    client.force_login(admin_user)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis"]
    assert "Connection" in body["parts"]["redis"]["detail"]


@pytest.mark.django_db
def test_it_answers_503_naming_the_database_when_it_is_down(client, monkeypatch):
    from dashboard.system import health

    def broken():
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(health, "check_database", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@pytest.mark.django_db
def test_it_tells_anonymous_callers_the_status_but_no_failure_details(client, settings):
    settings.REDIS_URL = "redis://postgres-admin@10.9.8.7:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["failing"], body["parts"]["redis"]) == (
        "unavailable",
        ["redis"],
        {"ok": False},
    )
    assert "10.9.8.7" not in response.content.decode()


@pytest.mark.django_db
def test_it_requires_login_on_every_page_but_login_and_health(client):
    paths = set(concrete_paths())
    assert {"/", "/system/", "/login/", "/healthz", "/admin/"} <= paths
    for path in sorted(paths - PUBLIC_PATHS):
        response = client.get(path)
        if path.startswith("/api/") and not path.startswith("/api/v1/docs/"):
            # A script is told to authenticate, not sent to a login page.
            assert response.status_code == 401, path
            assert response["WWW-Authenticate"].startswith("Bearer"), path
            continue
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/") or response["Location"].startswith(
            "/admin/login/"
        ), path
    for path in PUBLIC_PATHS:
        assert client.get(path).status_code == 200, path


@pytest.mark.django_db
def test_it_shows_the_status_page_to_a_logged_in_user(admin_client):
    response = admin_client.get(reverse("system-status"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "System status" in content
    assert "database" in content
    assert "/static/vendor/bootstrap/bootstrap.min." in content  # hashed name from the manifest


@pytest.mark.django_db
def test_it_logs_in_and_out(client, django_user_model):
    django_user_model.objects.create_user("triager", password="a-long-passphrase-1")
    response = client.post("/login/", {"username": "triager", "password": "a-long-passphrase-1"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_it_refuses_a_wrong_password(client, django_user_model):
    django_user_model.objects.create_user("triager", password="a-long-passphrase-1")
    response = client.post("/login/", {"username": "triager", "password": "nope"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


def test_it_serves_static_files_through_whitenoise(client):
    from django.contrib.staticfiles.storage import staticfiles_storage

    url = staticfiles_storage.url("vendor/htmx/htmx.min.js")
    response = client.get(url)
    assert response.status_code == 200
    assert "immutable" in response["Cache-Control"]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"htmx" in body


def test_an_all_digit_password_is_refused():
    with pytest.raises(ValidationError, match="entirely numeric"):
        validate_password("48207315926104")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["home", "error-list", "error-export", "overview-ageing"])
def test_what_a_logged_in_person_receives_is_never_stored(client, admin_user, name):
    client.force_login(admin_user)
    response = client.get(reverse(name))
    assert response.status_code == 200
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives
