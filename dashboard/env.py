"""Strict readers for the settings Error Desk takes from the environment.

Every reader takes the environment mapping explicitly, so tests can feed it any values, and raises
``ImproperlyConfigured`` with a message that starts with the variable's name: a wrong value stops the
process at start-up instead of surfacing later as a confusing failure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from celigo_api import REGION_BASE_URLS

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

# docs/celigo-api.md §1.1: NA and EU are confirmed; AU and CA appear in the newest Celigo reference only.
# The client's table is the one source; "us" is only an alias there.
CELIGO_REGIONS = {region: REGION_BASE_URLS[region] for region in ("na", "eu", "au", "ca")}


def fail(name: str, problem: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{name}: {problem}")


def read_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise fail(name, f"expected one of true/false/1/0/yes/no/on/off, got {raw!r}")


def read_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise fail(name, f"expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise fail(name, f"must be at least {minimum}, got {value}")
    return value


def read_list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(env: Mapping[str, str], var_dir: Path) -> dict[str, Any]:
    """``DATABASE_URL``, defaulting to an SQLite file under ``var/`` tuned for several local processes."""
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return sqlite_config(var_dir / "errordesk.sqlite3")
    scheme = urlsplit(url).scheme
    if scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise fail("DATABASE_URL", f"unsupported scheme {scheme!r}; use postgres://… or sqlite:///path")
    try:
        config: dict[str, Any] = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several types for a malformed URL
        raise fail("DATABASE_URL", f"cannot parse it ({exc})") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return sqlite_config(Path(config["NAME"]))
    if not config.get("NAME"):
        raise fail("DATABASE_URL", "names no database (expected postgres://user@host:port/dbname)")
    config["CONN_MAX_AGE"] = read_int(env, "DATABASE_CONN_MAX_AGE", 60)
    config["CONN_HEALTH_CHECKS"] = True
    return config


def sqlite_config(path: Path) -> dict[str, Any]:
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the write lock
    # up front so two writers queue on the busy timeout instead of failing with "database is locked".
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def redis_url(env: Mapping[str, str]) -> str | None:
    """``REDIS_URL``: when set, Redis carries the Celery broker and the shared rate limiter."""
    url = env.get("REDIS_URL", "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise fail("REDIS_URL", f"expected redis://host:port/db, got scheme {parts.scheme!r}")
    if parts.scheme != "unix" and not parts.hostname:
        raise fail("REDIS_URL", "names no host (expected redis://host:port/db)")
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily
    except ValueError:
        raise fail("REDIS_URL", "has an invalid port") from None
    return url


# What `make run` (dashboard/embedded.py) keeps under var/, by the variable each file stands for.
EMBEDDED_KEY_FILES = {"SECRET_KEY": "secret_key", "FIELD_ENCRYPTION_KEYS": "field_encryption_keys"}


def with_embedded_keys(env: Mapping[str, str], var_dir: Path) -> Mapping[str, str]:
    """``env``, plus the keys `make run` keeps in ``var_dir`` when this process runs on the same embedded
    default: no ``DATABASE_URL`` (so the SQLite file in ``var_dir``) and the files already made by `make run`.

    So ``manage.py`` beside `make run` reads the same database with the same secret and encryption keys. A
    variable that is set always wins, the files are never created here, and a deployment (``DATABASE_URL``
    set) never reads them: production still needs ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEYS``.
    """
    if env.get("DATABASE_URL", "").strip():
        return env
    found = {}
    for name, filename in EMBEDDED_KEY_FILES.items():
        path = var_dir / filename
        if not env.get(name, "").strip() and path.is_file():
            found[name] = path.read_text().strip()
    return {**env, **found} if found else env


def secret_key(env: Mapping[str, str], *, debug: bool) -> str:
    key = env.get("SECRET_KEY", "").strip()
    if key:
        if len(key) < 32 and not debug:
            raise fail("SECRET_KEY", "is too short; use at least 32 random characters")
        return key
    if debug:
        return "insecure-development-key-do-not-use-in-production"
    raise fail(
        "SECRET_KEY",
        "is required unless DEBUG=true (generate one with `openssl rand -base64 48`); on the embedded "
        "default, `make run` makes one in var/ that manage.py then reads",
    )


def allowed_hosts(env: Mapping[str, str]) -> list[str]:
    hosts = read_list(env, "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
    if not hosts:
        raise fail("ALLOWED_HOSTS", "is empty; list the host names Error Desk answers to, comma-separated")
    return hosts


def field_encryption_keys(env: Mapping[str, str], *, debug: bool, fallback_secret: str) -> list[bytes]:
    """``FIELD_ENCRYPTION_KEYS``: comma-separated Fernet keys, newest first (MultiFernet rotation order).

    Required unless DEBUG: a key derived from ``SECRET_KEY`` would tie the stored Celigo tokens to the secret
    (rotating it would strand them, and whoever reads it reads them). ``make run`` keeps its own key in
    ``var/`` (dashboard/embedded.py); with DEBUG and no keys, one is derived from ``SECRET_KEY``.
    """
    raw = env.get("FIELD_ENCRYPTION_KEYS", "").strip()
    if not raw:
        if not debug:
            raise fail(
                "FIELD_ENCRYPTION_KEYS",
                "is required unless DEBUG=true; generate one with `python -c 'from cryptography.fernet "
                "import Fernet; print(Fernet.generate_key().decode())'`",
            )
        return [derived_field_key(fallback_secret)]
    keys = []
    for position, item in enumerate(raw.split(","), start=1):
        key = item.strip().encode()
        try:
            decoded = base64.urlsafe_b64decode(key)
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise fail(
                "FIELD_ENCRYPTION_KEYS",
                f"key #{position} is not a Fernet key (32 url-safe base64 bytes); "
                "generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`",
            )
        keys.append(key)
    return keys


def derived_field_key(secret: str) -> bytes:
    """The key earlier versions derived from ``SECRET_KEY`` (still read by DEBUG and old embedded data)."""
    digest = hashlib.sha256(b"error-desk-field-encryption:" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest)


def celigo_base_url(env: Mapping[str, str]) -> str:
    """``CELIGO_BASE_URL`` wins over ``CELIGO_REGION`` (na, eu, au, ca); NA is the default."""
    base = env.get("CELIGO_BASE_URL", "").strip()
    if base:
        parts = urlsplit(base)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise fail(
                "CELIGO_BASE_URL", f"expected an http(s) URL such as https://api.integrator.io, got {base!r}"
            )
        if parts.query or parts.fragment:
            raise fail("CELIGO_BASE_URL", "must not carry a query string or fragment")
        return base.rstrip("/")
    region = env.get("CELIGO_REGION", "na").strip().lower() or "na"
    if region not in CELIGO_REGIONS:
        raise fail("CELIGO_REGION", f"expected one of {', '.join(CELIGO_REGIONS)}, got {region!r}")
    return CELIGO_REGIONS[region]


def celigo_region(env: Mapping[str, str]) -> str | None:
    if env.get("CELIGO_BASE_URL", "").strip():
        return None
    celigo_base_url(env)  # validates CELIGO_REGION
    return env.get("CELIGO_REGION", "na").strip().lower() or "na"


def celigo_api_token(env: Mapping[str, str]) -> str | None:
    token = env.get("CELIGO_API_TOKEN", "").strip()
    if not token:
        return None
    if token.lower().startswith("bearer "):
        # docs/celigo-api.md §1.2: a doubled "Bearer " prefix fails with 400, so refuse it here.
        raise fail("CELIGO_API_TOKEN", "give the bare token, without the 'Bearer ' prefix")
    if any(ch.isspace() for ch in token):
        raise fail("CELIGO_API_TOKEN", "contains white space")
    return token


def log_level(env: Mapping[str, str]) -> str:
    level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise fail("LOG_LEVEL", f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}")
    return level


# What an EMAIL_URL's query may set (django-environ would pass anything else on unread).
EMAIL_FLAGS = {"tls": "EMAIL_USE_TLS", "ssl": "EMAIL_USE_SSL"}
SMTP_SCHEMES = {"smtp", "smtps", "smtp+tls", "smtp+ssl"}
DEFAULT_FROM = "Error Desk <errordesk@localhost>"


def email_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """``EMAIL_URL`` as Django's ``EMAIL_*`` settings; empty when unset (mail is not configured).

    django-environ's syntax: ``smtp://user:pass@host:587/?tls=true``, ``smtps://…`` (TLS), ``smtp+ssl://…``,
    ``consolemail://``, ``filemail:///path``; the query may also carry ``timeout`` (seconds).
    """
    url = env.get("EMAIL_URL", "").strip()
    if not url:
        return {}
    parts = urlsplit(url)
    if parts.scheme not in environ.Env.EMAIL_SCHEMES:
        schemes = ", ".join(sorted(environ.Env.EMAIL_SCHEMES))
        raise fail("EMAIL_URL", f"unsupported scheme {parts.scheme!r}; use one of {schemes}")
    try:
        # The URL holds a password: name the problem, never echo the value.
        config = environ.Env.email_url_config(parts._replace(query="").geturl())
    except ValueError:
        raise fail("EMAIL_URL", "has an invalid port") from None
    settings = {key: config[key] for key in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT") if config[key]}
    settings["EMAIL_HOST_USER"] = unquote(config["EMAIL_HOST_USER"] or "")
    settings["EMAIL_HOST_PASSWORD"] = unquote(config["EMAIL_HOST_PASSWORD"] or "")
    settings["EMAIL_USE_TLS"] = config.get("EMAIL_USE_TLS", False)
    settings["EMAIL_USE_SSL"] = config.get("EMAIL_USE_SSL", False)
    settings.update(email_options(parts.query))
    if parts.scheme in SMTP_SCHEMES and not parts.hostname:
        raise fail("EMAIL_URL", "names no host (expected smtp://user:pass@host:587/?tls=true)")
    if parts.scheme == "filemail":
        if not parts.path.strip("/"):
            raise fail("EMAIL_URL", "filemail:// needs a folder (filemail:///var/mail/errordesk)")
        settings["EMAIL_FILE_PATH"] = unquote(parts.path)
    if settings["EMAIL_USE_TLS"] and settings["EMAIL_USE_SSL"]:
        raise fail("EMAIL_URL", "asks for both TLS and SSL; choose one (tls=true on 587, smtp+ssl:// on 465)")
    return settings


def email_options(query: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        name = key.strip().lower()
        if name == "timeout" and value.strip().isdigit() and int(value) > 0:
            options["EMAIL_TIMEOUT"] = int(value)
        elif name == "timeout":
            raise fail("EMAIL_URL", f"option timeout expects a number of seconds, got {value!r}")
        elif name in EMAIL_FLAGS and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            options[EMAIL_FLAGS[name]] = value.strip().lower() in TRUE_WORDS
        elif name in EMAIL_FLAGS:
            raise fail("EMAIL_URL", f"option {key} expects true or false, got {value!r}")
        else:
            raise fail("EMAIL_URL", f"unknown option {key!r}; the query may set tls, ssl and timeout")
    return options


def default_from_email(env: Mapping[str, str]) -> str:
    """``DEFAULT_FROM_EMAIL``: the sender of Error Desk's mail, ``Name <address>`` or a bare address."""
    raw = env.get("DEFAULT_FROM_EMAIL", "").strip() or DEFAULT_FROM
    _, address = parseaddr(raw)
    try:
        if "\n" in raw or "\r" in raw:
            raise ValidationError("a header holds one line")
        validate_email(address)
    except ValidationError:
        raise fail(
            "DEFAULT_FROM_EMAIL", f"expected an address such as 'Error Desk <desk@example.com>', got {raw!r}"
        ) from None
    return raw
