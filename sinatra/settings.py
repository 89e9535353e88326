"""Settings for Sinatra's control plane, read from the environment with django-environ.

Every variable is documented in README.md ("Settings") and listed in .env.example.
Development defaults are safe; production secrets have no default: a missing one is a
start-up error that names the variable.
"""

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from sinatra.cache import cache_settings
from sinatra.devenv import DEFAULT_DATABASE_URL

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Which env file to read: `.env` by default, `.env.production` in production. Variables
# already in the process environment win over the file.
_env_file_setting = env.str("SINATRA_ENV_FILE", default="")
ENV_FILE = Path(_env_file_setting or ".env")
if not ENV_FILE.is_absolute():
    ENV_FILE = BASE_DIR / ENV_FILE
if ENV_FILE.is_file():
    env.read_env(ENV_FILE)
elif _env_file_setting:
    raise ImproperlyConfigured(f"SINATRA_ENV_FILE names {ENV_FILE}, which does not exist.")

DEBUG = env.bool("DEBUG", default=False)


def _mandatory(name: str, *, hint: str) -> str:
    """Return a setting that production cannot run without, or fail naming it."""
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} is not set. {hint}")
    return value


def _seconds(name: str, *, default: int, zero_means: str) -> int:
    """Return a duration in whole seconds, or fail naming the variable (never a traceback)."""
    try:
        value = env.int(name, default=default)
    except ValueError:
        value = -1
    if value < 0:
        raise ImproperlyConfigured(f"{name} must be 0 ({zero_means}) or a whole number of seconds.")
    return value


if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="") or "django-insecure-development-only"
else:
    SECRET_KEY = _mandatory(
        "SECRET_KEY",
        hint="Set it to a long random value, e.g. the output of "
        "`python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`.",
    )

SINATRA_BASE_URL = env.str("SINATRA_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
_base = urlsplit(SINATRA_BASE_URL)
if _base.scheme not in ("http", "https") or not _base.hostname:
    raise ImproperlyConfigured("SINATRA_BASE_URL must be an absolute http(s) URL such as https://sinatra.example.com.")

# Unset or blank (as `ALLOWED_HOSTS=` in .env.example) means the default: an empty list would
# make Django refuse every request outside DEBUG.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[]) or (
    ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [_base.hostname]
)
CSRF_TRUSTED_ORIGINS = [f"{_base.scheme}://{_base.netloc}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "tenants",
    "credentials",
    "routing",
    "console",
    "sinatra",
]

MIDDLEWARE = [
    # First: one log line and the HTTP metrics for every request; then /healthz, /readyz and
    # /metrics, answered before the Host check and the HTTPS redirect (sinatra/middleware.py).
    "sinatra.middleware.RequestLogMiddleware",
    "sinatra.middleware.OpsEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The workers' API (/api/v1/...) is answered here, past what only browsers need.
    "sinatra.middleware.WorkerApiMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: no-store on every page of a signed-in person and under the private prefixes.
    "sinatra.nostore.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "sinatra.urls"
WSGI_APPLICATION = "sinatra.wsgi.application"

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
                "console.context_processors.site",
            ],
        },
    },
]

# The embedded default is a SQLite file in the project (`make run` keeps it mode 600, see
# sinatra/devenv.py); PostgreSQL via DATABASE_URL.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=DEFAULT_DATABASE_URL),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
    # (up to `timeout` seconds) instead of failing with "database is locked". The file is read
    # through a memory map (up to 256 MiB, shared by every connection through the OS's page
    # cache) rather than copied into each connection's own 2 MiB cache, which 10,000 tenants'
    # keys outgrow (docs/performance.md).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA mmap_size=268435456;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Each thread keeps its connection for a minute rather than opening one per request (opening
# a SQLite file, or a PostgreSQL session, costs more than a resolve's statement).
DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
# PostgreSQL: the hot statements (a resolve's credential rows, the API's token) are prepared on
# the server once per connection. Off behind a pooler that cannot keep prepared statements
# (PgBouncer before 1.21 in transaction mode): they are then planned on every call.
SINATRA_DB_PREPARED_STATEMENTS = env.bool("SINATRA_DB_PREPARED_STATEMENTS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis values are JSON, never pickles, and a down or slow Redis answers quickly (sinatra/cache.py).
CACHES = {"default": cache_settings(env.cache_url("CACHE_URL", default="locmemcache://"))}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- People: sign-in, throttled by django-axes (per username and client address).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 60 * 60 * 12
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password", "new_password1", "new_password2", "anthropic_key", "openrouter_key"]

# Mail (password resets, invitations): printed to the console unless EMAIL_URL names a server,
# e.g. smtp+tls://user:password@smtp.example.com:587.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Sinatra <sinatra@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where `collectstatic` puts the files that nginx (or WhiteNoise) serves.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Content-hashed names (and .gz/.br copies), so they can be cached for a year.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security: strict unless DEBUG. `manage.py check --deploy` is clean with these.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = _seconds("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000, zero_means="off")
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind a proxy that writes the client's address into X-Forwarded-For (replacing what clients
# send): the sign-up and password-reset throttles count per that address, not the proxy's.
USE_X_FORWARDED_FOR = env.bool("USE_X_FORWARDED_FOR", default=False)
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp 4): this site's own scripts, styles and images only, no
# inline script or style (templates keep them in static/), no plugins, no <base>, forms post
# only here, and no page is framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Error pages and reports (DEBUG's technical 500 page included) show no password, session key
# or pasted key: sinatra/redaction.py.
DEFAULT_EXCEPTION_REPORTER_FILTER = "sinatra.redaction.SecretsExceptionReporterFilter"

# Who may read /metrics besides a direct request from this machine (sinatra/metrics.py).
SINATRA_METRICS_TOKEN = env.str("SINATRA_METRICS_TOKEN", default="").strip()

# Logs: one line per request (sinatra.request) and per event; LOG_FORMAT=json makes each a JSON object.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be `plain` or `json`.")
_LOG_FORMATTER = (
    {"()": "sinatra.logs.JsonFormatter"}
    if LOG_FORMAT == "json"
    else {"()": "sinatra.logs.PlainFormatter", "fmt": "{asctime} {levelname} {name}: {message}", "style": "{"}
)
LOGGING_CONFIG = "sinatra.logs.configure_logging"  # LOGGING, and warnings through it
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_keys": {"()": "providers.secret.RedactKeysFilter"},
        # Session keys (the SQL log), one-time link tokens, passwords in URLs and hashes.
        "redact_secrets": {"()": "sinatra.redaction.RedactSecretsFilter"},
    },
    "formatters": {"default": _LOG_FORMATTER, "one_line": {**_LOG_FORMATTER, "tracebacks": False}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "default",
            "filters": ["redact_keys", "redact_secrets"],
        },
        "console_one_line": {
            "class": "logging.StreamHandler",
            "formatter": "one_line",
            "filters": ["redact_keys", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # Google's client logs request payloads (wrapped data keys) at DEBUG: never let them through.
        "google": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Without handlers of its own (Django's defaults are an unfiltered console in DEBUG and
        # mail to ADMINS), "django" reaches only the root's filtered handler.
        "django": {"handlers": [], "level": env.str("LOG_LEVEL", default="INFO")},
        # 4xx answers are in sinatra.request's line already; 5xx still log with their traceback.
        "django.request": {"level": "ERROR"},
        # A refused Host header (scanners, load balancers probing by IP) is one line, not a traceback.
        "django.security.DisallowedHost": {"handlers": ["console_one_line"], "level": "ERROR", "propagate": False},
    },
}

# --- Key management: which KMS wraps each credential's data key.


def _local_kms_key(name: str, value: str) -> str:
    """Check that a local KMS key is base64 of exactly 32 bytes; never echo the value."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(
            f"{name} is not valid base64. Generate a key with `python manage.py generate_kms_key`."
        ) from None
    if len(raw) != 32:
        raise ImproperlyConfigured(
            f"{name} must be the base64 encoding of exactly 32 bytes; it decodes to {len(raw)}. "
            "Generate a key with `python manage.py generate_kms_key`."
        )
    return value.strip()


_CRYPTO_KEY_NAME = re.compile(r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+")

SINATRA_KMS_KEY = env.str("SINATRA_KMS_KEY", default="").strip()
SINATRA_KMS_ENDPOINT = env.str("SINATRA_KMS_ENDPOINT", default="").strip()
SINATRA_LOCAL_DEV_KMS_KEY = env.str("SINATRA_LOCAL_DEV_KMS_KEY", default="")
SINATRA_LOCAL_DEV_KMS_OLD_KEYS = env.list("SINATRA_LOCAL_DEV_KMS_OLD_KEYS", default=[])

if SINATRA_KMS_KEY and not _CRYPTO_KEY_NAME.fullmatch(SINATRA_KMS_KEY):
    raise ImproperlyConfigured(
        "SINATRA_KMS_KEY must name a CryptoKey: projects/P/locations/L/keyRings/R/cryptoKeys/K (not a key version)."
    )

# The first backend is the primary: it wraps every new data key. The others only unwrap
# the rows they wrapped (a row's kek_id says which). Cloud KMS wins when both are set.
SINATRA_KMS_BACKENDS = []
if SINATRA_KMS_KEY:
    SINATRA_KMS_BACKENDS.append(
        {
            "BACKEND": "credentials.kms.cloud.CloudKmsBackend",
            "OPTIONS": {"key_name": SINATRA_KMS_KEY, "endpoint": SINATRA_KMS_ENDPOINT},
        }
    )
if SINATRA_LOCAL_DEV_KMS_KEY.strip() or SINATRA_LOCAL_DEV_KMS_OLD_KEYS:
    SINATRA_KMS_BACKENDS.append(
        {
            "BACKEND": "credentials.kms.local.LocalKmsBackend",
            "OPTIONS": {
                "key": _local_kms_key("SINATRA_LOCAL_DEV_KMS_KEY", SINATRA_LOCAL_DEV_KMS_KEY)
                if SINATRA_LOCAL_DEV_KMS_KEY.strip()
                else None,
                "old_keys": [
                    _local_kms_key("SINATRA_LOCAL_DEV_KMS_OLD_KEYS", old)
                    for old in SINATRA_LOCAL_DEV_KMS_OLD_KEYS
                    if old.strip()
                ],
            },
        }
    )
if not DEBUG and not (SINATRA_KMS_KEY or SINATRA_LOCAL_DEV_KMS_KEY.strip()):
    raise ImproperlyConfigured(
        "No key management is configured: set SINATRA_KMS_KEY (Cloud KMS, for production) "
        "or SINATRA_LOCAL_DEV_KMS_KEY (a local key for evaluation; "
        "generate one with `python manage.py generate_kms_key`)."
    )

# Unwrapped data keys are cached in process memory only, for this many seconds (0: off), and
# at most this many of them per process: one per credential a worker serves, so the default
# covers 10,000 active tenants with two keys each (about 65 MiB when full, docs/performance.md).
SINATRA_DEK_CACHE_SECONDS = _seconds("SINATRA_DEK_CACHE_SECONDS", default=300, zero_means="off")
try:
    SINATRA_DEK_CACHE_ENTRIES = env.int("SINATRA_DEK_CACHE_ENTRIES", default=20_000)
except ValueError:
    SINATRA_DEK_CACHE_ENTRIES = 0
if SINATRA_DEK_CACHE_ENTRIES < 1:
    raise ImproperlyConfigured(
        "SINATRA_DEK_CACHE_ENTRIES must be a whole number of data keys, at least 1 (default 20000); "
        "SINATRA_DEK_CACHE_SECONDS=0 turns the cache off."
    )

# --- Routing and providers.
SINATRA_SINGLE_TENANT = env.bool("SINATRA_SINGLE_TENANT", default=False)
SINATRA_ALLOW_SIGNUP = env.bool("SINATRA_ALLOW_SIGNUP", default=False)
# Who tenants' people are told to contact, e.g. about a deactivated tenant (empty: "the operators").
SINATRA_SUPPORT_EMAIL = env.str("SINATRA_SUPPORT_EMAIL", default="").strip()
# How long an invitation (install) link stays valid.
try:
    SINATRA_INVITATION_DAYS = env.int("SINATRA_INVITATION_DAYS", default=7)
except ValueError:
    SINATRA_INVITATION_DAYS = 0
if SINATRA_INVITATION_DAYS < 1:
    raise ImproperlyConfigured("SINATRA_INVITATION_DAYS must be a whole number of days, at least 1.")
SINATRA_MODEL_CATALOG_SECONDS = _seconds("SINATRA_MODEL_CATALOG_SECONDS", default=3600, zero_means="fetch every time")
# A provider call (a model-list fetch, all its pages and retries; a key check) is over within
# this many seconds, however slowly the provider answers.
try:
    SINATRA_MODEL_FETCH_DEADLINE_SECONDS = env.float("SINATRA_MODEL_FETCH_DEADLINE_SECONDS", default=5.0)
except ValueError:
    SINATRA_MODEL_FETCH_DEADLINE_SECONDS = 0.0
if not 0 < SINATRA_MODEL_FETCH_DEADLINE_SECONDS <= 300:  # nan fails this too
    raise ImproperlyConfigured(
        "SINATRA_MODEL_FETCH_DEADLINE_SECONDS must be a number of seconds above 0 and at most 300, e.g. 5."
    )
SINATRA_ANTHROPIC_BASE_URL = env.str("SINATRA_ANTHROPIC_BASE_URL", default="https://api.anthropic.com").rstrip("/")
SINATRA_OPENROUTER_BASE_URL = env.str("SINATRA_OPENROUTER_BASE_URL", default="https://openrouter.ai/api/v1").rstrip("/")

# Explicit alias targets (the names Claude Code uses); empty means "newest from the catalog".
ANTHROPIC_DEFAULT_OPUS_MODEL = env.str("ANTHROPIC_DEFAULT_OPUS_MODEL", default="").strip()
ANTHROPIC_DEFAULT_SONNET_MODEL = env.str("ANTHROPIC_DEFAULT_SONNET_MODEL", default="").strip()
ANTHROPIC_DEFAULT_HAIKU_MODEL = env.str("ANTHROPIC_DEFAULT_HAIKU_MODEL", default="").strip()
ANTHROPIC_DEFAULT_FABLE_MODEL = env.str("ANTHROPIC_DEFAULT_FABLE_MODEL", default="").strip()

# Global provider keys serve only single-tenant evaluation; multi-tenant mode never reads them.
ANTHROPIC_API_KEY = env.str("ANTHROPIC_API_KEY", default="") if SINATRA_SINGLE_TENANT else ""
OPENROUTER_API_KEY = env.str("OPENROUTER_API_KEY", default="") if SINATRA_SINGLE_TENANT else ""

SANDBOX_PROVIDER = env.str("SANDBOX_PROVIDER", default="").strip().lower()
if SANDBOX_PROVIDER not in ("", "docker", "daytona"):
    raise ImproperlyConfigured("SANDBOX_PROVIDER must be `docker` or `daytona` (or unset).")
