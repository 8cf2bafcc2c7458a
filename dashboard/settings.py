"""Django settings for Error Desk, read from the environment (see README "Configuration")."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from dashboard import env as read

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ERROR_DESK_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Beside `make run`, manage.py reads the keys it keeps in var/ (only on the embedded default: env.py).
ENV = read.with_embedded_keys(os.environ, VAR_DIR)
DEBUG = read.read_bool(ENV, "DEBUG", default=False)
SECRET_KEY = read.secret_key(ENV, debug=DEBUG)
ALLOWED_HOSTS = read.allowed_hosts(ENV)
CSRF_TRUSTED_ORIGINS = read.read_list(ENV, "CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from static/ (no CDN)
    "django_celery_beat",
    "axes",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "dashboard.middleware.RefuseNulMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "csp.middleware.CSPMiddleware",
    "dashboard.middleware.NoStoreForPeopleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username, or from one
# address, further attempts are refused for AXES_COOLOFF_TIME; an admin unlocks earlier by deleting the
# attempts in the Django admin ("Access attempts") or with `manage.py axes_reset`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 5
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.views.context_processors.abilities",
            ],
        },
    },
]

DATABASES = {"default": read.database_config(ENV, VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(ENV.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Headers (docs/architecture.md "Headers")
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto: plain HTTP is redirected to HTTPS (except the
# health check, which container probes call over plain HTTP), browsers are told to use HTTPS only (HSTS),
# and cookies are sent over HTTPS only.
BEHIND_TLS_PROXY = read.read_bool(ENV, "BEHIND_TLS_PROXY", default=False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = BEHIND_TLS_PROXY
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = read.read_int(ENV, "HSTS_SECONDS", 31_536_000, minimum=0) if BEHIND_TLS_PROXY else 0
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = read.read_bool(ENV, "SECURE_COOKIES", default=BEHIND_TLS_PROXY)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Only our own scripts and styles, from our own origin: no inline script or style, no eval (htmx is told so in
# templates/base.html), nothing from a CDN. Bootstrap's CSS draws a few icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Redis, Celery and the shared Celigo rate limiter
REDIS_URL = read.redis_url(ENV)
CELERY_QUEUE_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    # The embedded default: Celery's filesystem transport needs no server. Producers write messages
    # into the folder and the worker consumes them from the same folder.
    for sub in ("queue", "processed", "control"):
        (CELERY_QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_QUEUE_DIR / "queue"),
        "data_folder_out": str(CELERY_QUEUE_DIR / "queue"),
        "processed_folder": str(CELERY_QUEUE_DIR / "processed"),
        "control_folder": str(CELERY_QUEUE_DIR / "control"),
        "store_processed": False,
    }
CELERY_TIMEZONE = TIME_ZONE
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = read.read_int(ENV, "CELERY_TASK_TIME_LIMIT", 30 * 60, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = read.read_int(ENV, "CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
# An action batch that waited this long for Celigo (down, rate limiting, token refused) fails, saying why.
ACTION_BATCH_MAX_WAIT_HOURS = read.read_int(ENV, "ACTION_BATCH_MAX_WAIT_HOURS", 24, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = read.read_bool(ENV, "CELERY_TASK_ALWAYS_EAGER", default=False)

# The default cache holds the API's throttle counters and cached aggregates: in Redis when it is configured,
# so every web process counts against the same per-token limit; otherwise in each process's memory.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

# Without Redis, processes on this machine share the limiter through a locked file under var/.
RATE_LIMIT_FILE = VAR_DIR / "celigo-ratelimit.db"

# --- Celigo
FIELD_ENCRYPTION_KEYS = read.field_encryption_keys(ENV, debug=DEBUG, fallback_secret=SECRET_KEY)
CELIGO_API_TOKEN = read.celigo_api_token(ENV)
CELIGO_BASE_URL = read.celigo_base_url(ENV)
CELIGO_REGION = read.celigo_region(ENV)
# The name given to the account created from CELIGO_API_TOKEN at start-up.
CELIGO_ACCOUNT_NAME = ENV.get("CELIGO_ACCOUNT_NAME", "").strip()[:100]

# --- Mail: set-password links are e-mailed only when EMAIL_URL is set; otherwise the admin passes them on.
_MAIL = read.email_settings(ENV)
EMAIL_CONFIGURED = bool(_MAIL)
# Unconfigured, nothing may try an SMTP server on localhost by accident.
EMAIL_BACKEND = _MAIL.get("EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
EMAIL_HOST = _MAIL.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _MAIL.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _MAIL.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _MAIL.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _MAIL.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _MAIL.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = _MAIL.get("EMAIL_TIMEOUT", 10)  # seconds: a person waits for the page that sends
if "EMAIL_FILE_PATH" in _MAIL:
    EMAIL_FILE_PATH = _MAIL["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = read.default_from_email(ENV)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- REST API (docs/api.md)
API_REQUESTS_PER_MINUTE = read.read_int(ENV, "API_REQUESTS_PER_MINUTE", 1200, minimum=1)
REST_FRAMEWORK = {
    # The token first: an unauthenticated call is a 401 with WWW-Authenticate, not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dashboard.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browser's, with CSRF
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "dashboard.api.permissions.TokenScopeAllows",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "dashboard.api.pagination.KeysetCursorPagination",
    "DEFAULT_THROTTLE_CLASSES": ["dashboard.api.throttling.ApiTokenRateThrottle"],
    # Per token (or per person for the browser), counted in the default cache: Redis when configured.
    "DEFAULT_THROTTLE_RATES": {"api": f"{API_REQUESTS_PER_MINUTE}/min"},
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["dashboard.api.parsers.BoundedJSONParser"],
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Error Desk API",
    "DESCRIPTION": "Triage the integration errors of Celigo integrator.io accounts.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ErrorStatusEnum": "dashboard.models.errors.CeligoState",
        "AccountStatusEnum": "dashboard.models.accounts.AccountStatus",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": read.log_level(ENV)},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
