"""Each setting read from the environment: its parsing, and a failure message that names the variable."""

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from dashboard import env as read

ROOT = Path(__file__).resolve().parents[2]


def assert_fails_naming(name, func, *args, **kwargs):
    with pytest.raises(ImproperlyConfigured) as info:
        func(*args, **kwargs)
    assert str(info.value).startswith(f"{name}: ")
    return str(info.value)


def test_it_defaults_to_sqlite_in_var_with_wal_and_immediate_transactions(tmp_path):
    config = read.database_config({}, tmp_path)
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "errordesk.sqlite3")
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["timeout"] >= 5


def test_it_reads_a_postgres_database_url(tmp_path):
    config = read.database_config({"DATABASE_URL": "postgres://ed:pw@db.internal:5433/errordesk"}, tmp_path)
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"], config["USER"]) == (
        "db.internal",
        5433,
        "errordesk",
        "ed",
    )
    assert config["CONN_HEALTH_CHECKS"] is True


def test_it_tunes_an_sqlite_database_url_too(tmp_path):
    config = read.database_config({"DATABASE_URL": f"sqlite:///{tmp_path}/other.db"}, tmp_path)
    assert config["NAME"] == f"{tmp_path}/other.db"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgres://u@h:5432/", "nonsense"])
def test_it_rejects_a_bad_database_url(url, tmp_path):
    assert_fails_naming("DATABASE_URL", read.database_config, {"DATABASE_URL": url}, tmp_path)


def test_it_reads_redis_url_or_none():
    assert read.redis_url({}) is None
    assert read.redis_url({"REDIS_URL": "redis://127.0.0.1:6379/2"}) == "redis://127.0.0.1:6379/2"


@pytest.mark.parametrize("url", ["http://localhost:6379", "redis://", "redis://host:notaport/0"])
def test_it_rejects_a_bad_redis_url(url):
    assert_fails_naming("REDIS_URL", read.redis_url, {"REDIS_URL": url})


def test_it_requires_secret_key_unless_debug():
    message = assert_fails_naming("SECRET_KEY", read.secret_key, {}, debug=False)
    assert "DEBUG" in message
    assert read.secret_key({}, debug=True)
    assert read.secret_key({"SECRET_KEY": "k" * 40}, debug=False) == "k" * 40


def test_it_refuses_a_short_secret_key_in_production():
    assert_fails_naming("SECRET_KEY", read.secret_key, {"SECRET_KEY": "short"}, debug=False)


def test_it_reads_allowed_hosts_as_a_comma_list():
    assert read.allowed_hosts({"ALLOWED_HOSTS": "desk.example.com, .example.org"}) == [
        "desk.example.com",
        ".example.org",
    ]
    assert "localhost" in read.allowed_hosts({})
    assert_fails_naming("ALLOWED_HOSTS", read.allowed_hosts, {"ALLOWED_HOSTS": " , "})


def test_it_reads_field_encryption_keys_newest_first():
    first, second = Fernet.generate_key(), Fernet.generate_key()
    keys = read.field_encryption_keys(
        {"FIELD_ENCRYPTION_KEYS": f"{first.decode()},{second.decode()}"}, debug=False, fallback_secret="s"
    )
    assert keys == [first, second]


def test_it_requires_encryption_keys_unless_debug():
    message = assert_fails_naming(
        "FIELD_ENCRYPTION_KEYS", read.field_encryption_keys, {}, debug=False, fallback_secret="secret"
    )
    assert "required unless DEBUG=true" in message


def test_with_debug_it_derives_a_stable_key_from_the_secret_when_none_is_given():
    one = read.field_encryption_keys({}, debug=True, fallback_secret="secret")
    assert one == read.field_encryption_keys({}, debug=True, fallback_secret="secret")
    Fernet(one[0])  # a valid key


def test_it_names_the_bad_encryption_key():
    good = Fernet.generate_key().decode()
    message = assert_fails_naming(
        "FIELD_ENCRYPTION_KEYS",
        read.field_encryption_keys,
        {"FIELD_ENCRYPTION_KEYS": f"{good},nope"},
        debug=False,
        fallback_secret="s",
    )
    assert "#2" in message


def test_it_picks_the_celigo_base_url_from_region_or_url():
    assert read.celigo_base_url({}) == "https://api.integrator.io"
    assert read.celigo_base_url({"CELIGO_REGION": "EU"}) == "https://api.eu.integrator.io"
    assert read.celigo_base_url({"CELIGO_REGION": "au"}) == "https://api.au.integrator.io"
    assert read.celigo_base_url({"CELIGO_BASE_URL": "http://127.0.0.1:8765/", "CELIGO_REGION": "eu"}) == (
        "http://127.0.0.1:8765"
    )
    assert read.celigo_region({"CELIGO_REGION": "ca"}) == "ca"
    assert read.celigo_region({"CELIGO_BASE_URL": "http://127.0.0.1:1"}) is None


def test_it_rejects_an_unknown_region_or_a_bad_base_url():
    assert_fails_naming("CELIGO_REGION", read.celigo_base_url, {"CELIGO_REGION": "mars"})
    assert_fails_naming("CELIGO_BASE_URL", read.celigo_base_url, {"CELIGO_BASE_URL": "api.integrator.io"})
    assert_fails_naming("CELIGO_BASE_URL", read.celigo_base_url, {"CELIGO_BASE_URL": "https://x.io/?a=1"})


def test_it_reads_the_celigo_token_bare():
    assert read.celigo_api_token({}) is None
    assert read.celigo_api_token({"CELIGO_API_TOKEN": " abc123 "}) == "abc123"
    message = assert_fails_naming(
        "CELIGO_API_TOKEN", read.celigo_api_token, {"CELIGO_API_TOKEN": "Bearer abc"}
    )
    assert "abc" not in message.split(":", 1)[1].replace("bare", "")


def test_it_reads_no_email_url_as_mail_not_configured():
    assert read.email_settings({}) == {}
    assert read.email_settings({"EMAIL_URL": "  "}) == {}


def test_it_reads_an_smtp_email_url_with_tls_and_a_timeout():
    settings = read.email_settings(
        {"EMAIL_URL": "smtp://desk%40example.com:p%40ss@mail.example.com:587/?tls=True&timeout=5"}
    )
    assert settings == {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "mail.example.com",
        "EMAIL_PORT": 587,
        "EMAIL_HOST_USER": "desk@example.com",
        "EMAIL_HOST_PASSWORD": "p@ss",
        "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 5,
    }


def test_it_reads_the_other_email_url_schemes():
    assert read.email_settings({"EMAIL_URL": "smtps://u:p@mail.example.com"})["EMAIL_USE_TLS"] is True
    assert read.email_settings({"EMAIL_URL": "smtp+ssl://u:p@mail.example.com:465"})["EMAIL_USE_SSL"] is True
    console = read.email_settings({"EMAIL_URL": "consolemail://"})
    assert console["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert (
        read.email_settings({"EMAIL_URL": "filemail:///var/mail/desk"})["EMAIL_FILE_PATH"] == "/var/mail/desk"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "mail.example.com",
        "smtp://",
        "smtp://u:p@mail.example.com:port",
        "smtp://mail.example.com/?tls=maybe",
        "smtp://mail.example.com/?tls=true&ssl=true",
        "smtp://mail.example.com/?timeout=soon",
        "smtp://mail.example.com/?starttls=1",
        "filemail://",
    ],
)
def test_it_rejects_a_bad_email_url(url):
    assert_fails_naming("EMAIL_URL", read.email_settings, {"EMAIL_URL": url})


def test_it_never_repeats_the_mail_password_in_a_failure():
    message = assert_fails_naming(
        "EMAIL_URL", read.email_settings, {"EMAIL_URL": "smtp://u:hunter2@mail.example.com:port"}
    )
    assert "hunter2" not in message


def test_it_reads_the_sender_of_mail():
    assert read.default_from_email({}) == "Error Desk <errordesk@localhost>"
    assert read.default_from_email({"DEFAULT_FROM_EMAIL": "desk@example.com"}) == "desk@example.com"
    assert (
        read.default_from_email({"DEFAULT_FROM_EMAIL": " Ops <ops@example.com> "}) == "Ops <ops@example.com>"
    )


@pytest.mark.parametrize("sender", ["nobody", "Ops <>", "Ops <ops@example.com>\nBcc: all@example.com"])
def test_it_rejects_a_bad_sender_of_mail(sender):
    assert_fails_naming("DEFAULT_FROM_EMAIL", read.default_from_email, {"DEFAULT_FROM_EMAIL": sender})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("CELERY_TASK_TIME_LIMIT", "ten"),
        ("LOG_LEVEL", "LOUD"),
        ("EMAIL_URL", "http://mail.example.com"),
        ("DEFAULT_FROM_EMAIL", "nobody"),
        ("FIELD_ENCRYPTION_KEYS", ""),
    ],
)
def test_it_fails_at_start_up_naming_the_variable(name, value, tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "SECRET_KEY": "s" * 40,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ERROR_DESK_VAR_DIR": str(tmp_path),
        name: value,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert f"{name}: " in result.stderr
