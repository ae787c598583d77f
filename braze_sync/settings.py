"""Settings for braze_sync, read from the environment (django-environ).

Every variable is listed with a safe development value in .env.example. The defaults need no
server: a SQLite file and kombu's filesystem broker under var/. Setting DATABASE_URL and
CELERY_BROKER_URL switches the same code to PostgreSQL and Redis (or RabbitMQ).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
# Local state of the embedded defaults (SQLite file, broker folder, beat schedule) lives here.
VAR_DIR.mkdir(exist_ok=True)
(VAR_DIR / "staticfiles").mkdir(exist_ok=True)

env = environ.Env()
# A local .env is a convenience for development; the process environment always wins.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/

DEBUG = env.bool("DJANGO_DEBUG", default=False)
_DEV_SECRET_KEY = "django-insecure-dev-only-key-never-use-in-production-0123456789abcdef"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise environ.ImproperlyConfigured("Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for development)")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "core",
    "telemetry",
    "appgroups",
    "users",
    "partners",
    "canvas",
    "notifications",
    "analytics",
    "audience_sync",
    "journeys",
    "monitoring",
    "api",
    "demo",
]

MIDDLEWARE = [
    "braze_sync.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "appgroups.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "appgroups.middleware.CurrentAppGroupMiddleware",
]

ROOT_URLCONF = "braze_sync.urls"
WSGI_APPLICATION = "braze_sync.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "appgroups.context_processors.current_app_group",
                "notifications.context_processors.notifications",
            ],
        },
    },
]

# Database
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'braze_sync.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web, worker and beat processes read while one of them writes;
            # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # A file (not :memory:) so that worker processes started by the tests see the test
    # database; named after the main file, so two checkouts' test runs never share one.
    _main_db = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_main_db.with_name(f"test_{_main_db.name}"))}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Auth

AUTH_USER_MODEL = "appgroups.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in rate limiting (appgroups/loginlimit.py): failed sign-ins per window answer 429.
LOGIN_FAILURES_PER_EMAIL = env.int("LOGIN_FAILURES_PER_EMAIL", default=5)
LOGIN_FAILURES_PER_ADDRESS = env.int("LOGIN_FAILURES_PER_ADDRESS", default=50)
LOGIN_FAILURE_WINDOW_SECONDS = env.int("LOGIN_FAILURE_WINDOW_SECONDS", default=15 * 60)
# The header a trusted proxy puts the client's address in (e.g. X-Forwarded-For); empty:
# REMOTE_ADDR. Only set it when every request comes through that proxy. Behind the proxy
# (DJANGO_BEHIND_PROXY, production's default) `check --deploy` fails while it is empty: every
# client would count as the proxy's address (appgroups/checks.py).
LOGIN_CLIENT_ADDRESS_HEADER = env("LOGIN_CLIENT_ADDRESS_HEADER", default="")

# Internationalization

# The dashboard speaks the languages of Braze's own documents (issue 16). Before sign-in the
# browser's Accept-Language (or the sign-in page's switch, a cookie) decides; after sign-in the
# user's choice in the user menu (User.language) wins (core/i18n.py, appgroups/middleware.py).
# The REST API, log lines and the TikTok sandbox stay English. Catalogs: locale/ (docs/I18N.md).
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("de", "Deutsch"),
    ("fr", "Français"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English keeps its 24-hour times and ISO short dates; other languages use Django's locale formats.
FORMAT_MODULE_PATH = ["braze_sync.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files (served by WhiteNoise in every mode, so `make run` needs no web server)
# https://whitenoise.readthedocs.io/en/stable/django.html

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Without collectstatic (make run, tests) WhiteNoise finds files through the finders.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Security (docs/ARCHITECTURE.md D14). Production is DJANGO_DEBUG=0 behind a TLS-terminating proxy.
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=12 * 60 * 60)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
_SECURE_DEFAULT = not DEBUG
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=_SECURE_DEFAULT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=_SECURE_DEFAULT)
# Load balancers probe /healthz, and Prometheus scrapes /metrics, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000 if not DEBUG else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
if env.bool("DJANGO_BEHIND_PROXY", default=not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery: messages are only wake-ups; all durable state lives in the database (docs/ARCHITECTURE.md D12).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://localhost/")
# Relative to the project folder when not absolute (the tests use their own folder).
CELERY_FILESYSTEM_DIR = BASE_DIR / env("CELERY_FILESYSTEM_DIR", default=str(VAR_DIR / "celery"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: producers and consumers share one folder of message files.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
        # Seconds between folder scans when idle; a wake-up need not wait a full second.
        "polling_interval": 0.2,
    }
    # kombu creates none of these folders itself.
    for _folder in ("queue", "control", "results"):
        (CELERY_FILESYSTEM_DIR / _folder).mkdir(parents=True, exist_ok=True)
    _DEFAULT_RESULT_BACKEND = f"file://{CELERY_FILESYSTEM_DIR / 'results'}"
else:
    _DEFAULT_RESULT_BACKEND = CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else ""
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=_DEFAULT_RESULT_BACKEND) or None
# Results are only kept for tasks that ask for them (the worker ping); the rest write state
# to the database themselves.
# braze_sync is not an installed app, so autodiscovery would miss its tasks module.
CELERY_IMPORTS = ["braze_sync.tasks"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=150)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (request ids, JSON, redaction), not Celery's own setup.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The longest the worker's timer thread sleeps (Celery's default: 1 s). Stopping the worker
# waits for that thread, so a stop took up to a second longer than the work in flight.
CELERY_WORKER_TIMER_PRECISION = 0.1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Shared counters (rate limiter) when several machines run workers.
REDIS_URL = env("REDIS_URL", default="")

# Django's cache holds the TikTok audience lists that page views reuse (partners/tiktok/
# audiences.py), so it must be shared by every process: Redis when REDIS_URL is set (every
# machine), else files under var/cache (every process of this one machine, which is all the
# embedded default runs on). Not locmem: each process would ask TikTok for itself.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "braze_sync",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# TikTok (partners/tiktok/client.py is the only code that knows TikTok's URLs and payloads)
# https://business-api.tiktok.com/portal/docs (Marketing API v1.3)

# One origin for both the consent page (/portal/auth) and the API (/open_api/v1.3/). Unset or
# empty: the sandbox on this machine in development, the real TikTok in production.
TIKTOK_SANDBOX_API_BASE = "http://127.0.0.1:8100"
TIKTOK_PRODUCTION_API_BASE = "https://business-api.tiktok.com"
# "This machine" for plain http to a sandbox (partners/tiktok/client.py checks the same).
TIKTOK_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TIKTOK_API_BASE = (
    env("TIKTOK_API_BASE", default="")
    or (TIKTOK_SANDBOX_API_BASE if DEBUG else TIKTOK_PRODUCTION_API_BASE)
).rstrip("/")
# Plain http to TikTok is allowed for a sandbox on this machine only (127.0.0.1, localhost,
# ::1; partners/tiktok/client.py): always in development, and in production only with
# TIKTOK_API_ALLOW_HTTP=1, which the chaos scenarios, the benchmarks and the tests that run
# production settings against the sandbox set. Production otherwise refuses to start unless
# TIKTOK_API_BASE is https.
TIKTOK_API_ALLOW_HTTP = DEBUG or env.bool("TIKTOK_API_ALLOW_HTTP", default=False)
_tiktok_api = urlsplit(TIKTOK_API_BASE)
if not DEBUG and _tiktok_api.scheme != "https":
    if not TIKTOK_API_ALLOW_HTTP:
        raise environ.ImproperlyConfigured(
            f"TIKTOK_API_BASE must be https in production (DJANGO_DEBUG=0), not "
            f"{TIKTOK_API_BASE}: unset it for {TIKTOK_PRODUCTION_API_BASE}. Only for a TikTok "
            "sandbox on this machine, TIKTOK_API_ALLOW_HTTP=1 allows http://127.0.0.1:<port>."
        )
    if _tiktok_api.scheme != "http" or _tiktok_api.hostname not in TIKTOK_LOOPBACK_HOSTS:
        raise environ.ImproperlyConfigured(
            f"TIKTOK_API_ALLOW_HTTP=1 only allows a sandbox on this machine "
            f"(http://127.0.0.1, localhost or [::1]), not {TIKTOK_API_BASE}: point "
            f"TIKTOK_API_BASE at an https URL ({TIKTOK_PRODUCTION_API_BASE})."
        )
# The sandbox's seeded app; production sets the real app's id and secret.
TIKTOK_APP_ID = env("TIKTOK_APP_ID", default="7000000000000000001" if DEBUG else "")
TIKTOK_APP_SECRET = env("TIKTOK_APP_SECRET", default="sandbox-secret-change-me" if DEBUG else "")
# Where TikTok sends the browser back; derived from the request when empty.
TIKTOK_REDIRECT_URI = env("TIKTOK_REDIRECT_URI", default="")
# Seconds before a TikTok request counts as timed out (connect, read).
TIKTOK_CONNECT_TIMEOUT = env.float("TIKTOK_CONNECT_TIMEOUT", default=5.0)
TIKTOK_READ_TIMEOUT = env.float("TIKTOK_READ_TIMEOUT", default=30.0)
# How often beat checks every connection's token (/oauth2/advertiser/get/).
TIKTOK_TOKEN_CHECK_SECONDS = env.int("TIKTOK_TOKEN_CHECK_SECONDS", default=300)
# An OAuth `state` is single-use and expires after this many seconds.
TIKTOK_OAUTH_STATE_TTL_SECONDS = 10 * 60
# Fernet keys for TikTok tokens at rest, comma-separated: the first encrypts, all decrypt
# (rotation: put the new key first, run `manage.py rotate_tiktok_token_keys`, drop the old).
# Development derives a key from the dev SECRET_KEY; production must set its own.
TIKTOK_TOKEN_KEYS = env.list("TIKTOK_TOKEN_KEYS", default=[])
if not TIKTOK_TOKEN_KEYS and not DEBUG:
    raise environ.ImproperlyConfigured(
        "Set TIKTOK_TOKEN_KEYS; generate a key with: python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
    )

# Audience Sync (docs/ARCHITECTURE.md D1, D2, D3, D6)
# At most this many /segment/mapping/ requests in any second, across every worker.
TIKTOK_MAX_REQUESTS_PER_SECOND = env.int("TIKTOK_MAX_REQUESTS_PER_SECOND", default=50)
# Of those, at most this many may be interactive calls (page views, the editor's look-ups,
# launches, OAuth, token checks: everything but the flush's /segment/mapping/), so the flush
# always keeps the rest (docs/ARCHITECTURE.md D3). Default: a fifth (10 of 50).
TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND = env.int(
    "TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND", default=max(1, TIKTOK_MAX_REQUESTS_PER_SECOND // 5)
)
if not 0 < TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND < TIKTOK_MAX_REQUESTS_PER_SECOND:
    raise environ.ImproperlyConfigured(
        "TIKTOK_INTERACTIVE_REQUESTS_PER_SECOND must be at least 1 and less than "
        "TIKTOK_MAX_REQUESTS_PER_SECOND: the flush keeps the rest"
    )
# Seconds an ad account's audience list from TikTok is reused by the Summary's launch check
# and the Audience Sync editor (partners/tiktok/audiences.py). Viewers never ask TikTok: they
# see the last list known, whatever its age, or that it was not checked.
TIKTOK_AUDIENCE_CACHE_SECONDS = env.int("TIKTOK_AUDIENCE_CACHE_SECONDS", default=60)
# Users per /segment/mapping/ request (TikTok's limit per Braze's TikTok page).
TIKTOK_MAX_USERS_PER_REQUEST = env.int("TIKTOK_MAX_USERS_PER_REQUEST", default=10_000)
# A user is retried this long after being queued (within one flush tick of the first attempt),
# then counts as Users Errored.
AUDIENCE_SYNC_RETRY_WINDOW_SECONDS = env.int(
    "AUDIENCE_SYNC_RETRY_WINDOW_SECONDS", default=13 * 60 * 60
)
# Seconds between beat's wake-ups of the flush and of the journey engine.
AUDIENCE_SYNC_FLUSH_SECONDS = 5
# A partial batch goes when its oldest user has waited this long; a full one goes at once
# (docs/ARCHITECTURE.md D1).
AUDIENCE_SYNC_BATCH_WAIT_SECONDS = env.float("AUDIENCE_SYNC_BATCH_WAIT_SECONDS", default=5.0)
JOURNEYS_ADVANCE_SECONDS = 2
# A task that finds a backlog wakes one more; a wake-up not picked up within this many seconds
# is dropped (beat sends fresh ones).
WAKE_UP_EXPIRES_SECONDS = 30

# Beat: periodic tasks. `expires` lets a slow worker drop a stale tick instead of piling up.
# https://docs.celeryq.dev/en/stable/userguide/periodic-tasks.html
CELERY_BEAT_SCHEDULE = {
    "audience-sync-flush": {
        "task": "audience_sync.tasks.audience_sync_flush",
        "schedule": AUDIENCE_SYNC_FLUSH_SECONDS,
        "options": {"expires": AUDIENCE_SYNC_FLUSH_SECONDS},
    },
    "analytics-housekeeping": {
        "task": "analytics.tasks.analytics_housekeeping",
        "schedule": 60 * 60,
        "options": {"expires": 60 * 60},
    },
    "telemetry-housekeeping": {
        "task": "telemetry.tasks.telemetry_housekeeping",
        "schedule": 60 * 60,
        "options": {"expires": 60 * 60},
    },
    "journeys-advance": {
        "task": "journeys.tasks.journeys_advance",
        "schedule": JOURNEYS_ADVANCE_SECONDS,
        "options": {"expires": JOURNEYS_ADVANCE_SECONDS},
    },
    # Re-readings of phone numbers whose worker died or whose message was lost.
    "phone-renormalizations-resume": {
        "task": "users.tasks.phone_renormalizations_resume",
        "schedule": 60,
        "options": {"expires": 60},
    },
    "tiktok-connections-check": {
        "task": "partners.tasks.tiktok_connections_check",
        "schedule": TIKTOK_TOKEN_CHECK_SECONDS,
        "options": {"expires": TIKTOK_TOKEN_CHECK_SECONDS},
    },
}

# Logging: one line per record on stderr; never log PII or tokens (docs/ARCHITECTURE.md D14).
# LOG_FORMAT=json writes JSON objects (one per line) for log shippers.
LOG_FORMAT = env("LOG_FORMAT", default="plain")

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
CELERY_TASK_TRAFFIC_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "celery.beat")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "braze_sync.logs.JsonFormatter"},
    },
    "filters": {
        # Request lines lose their query strings: a URL may carry what a person typed.
        "no_query_strings": {"()": "braze_sync.logs.NoQueryStrings"},
        # Emails, phones, ad ids and database row values are removed from every line.
        "redact_identifiers": {"()": "braze_sync.logs.RedactIdentifiers"},
        "request_context": {"()": "braze_sync.logs.RequestContext"},
    },
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["no_query_strings", "redact_identifiers", "request_context"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Django's dev server logs request lines through its own handler by default; route
        # them through ours so the filters apply.
        "django.server": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG these log token request bodies and responses: secrets and tokens.
        "requests_oauthlib": {"level": "WARNING"},
        "oauthlib": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Celery's task traffic (task received, task succeeded, beat sending a due task):
        # in development, three lines every 2 s would scroll the sign-in banner away, so only
        # warnings, while the product's own lines (one per mapping request, errors, start-up)
        # stay. Production logs it at LOG_LEVEL. The tests' workers ask for it
        # (CELERY_TASK_LOG_LEVEL=INFO) to see which tasks ran.
        **{
            name: {"level": env("CELERY_TASK_LOG_LEVEL", default="WARNING" if DEBUG else LOG_LEVEL)}
            for name in CELERY_TASK_TRAFFIC_LOGGERS
        },
    },
}

# Monitoring: /metrics (Prometheus text format) answers a bearer token or a client network.
# Behind a proxy every client has the proxy's address: list only networks that reach the web
# processes directly (the Prometheus server's), never the proxy's.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = [
    ipaddress.ip_network(network)
    for network in env.list(
        "METRICS_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"] if DEBUG else []
    )
]

# Email (notifications). The console in development; smtp+tls://user:password@host:587 in
# production. https://django-environ.readthedocs.io/en/latest/types.html#environ-env-email-url

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="braze_sync <noreply@localhost>")
# Seconds before an unresponsive mail server gives up (a worker must not hang on it).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# The dashboard's public address, for links in emails.
DASHBOARD_URL = env("DASHBOARD_URL", default="http://127.0.0.1:8000").rstrip("/")

# Demo seed (make run)

DEMO_CREDENTIALS_FILE = VAR_DIR / "demo-credentials.txt"
