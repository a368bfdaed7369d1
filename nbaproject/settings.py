"""Settings for nbaproject, read from the environment (12-factor).

Every variable is documented in docs/configuration.md and .env.example. A `.env` file at the
project root is read first (never committed); real environment variables win.
Without any configuration the project runs on an embedded default: a SQLite file
and a server-less Celery transport under var/.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from nbaproject.envfile import load_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
# ENV_FILE names another file to read (or /dev/null for none); nbaproject/start.py reads it the same way.
load_env_file()


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off).")


def env_int(name: str, default: int) -> int:
    value = env(name)
    try:
        return default if value is None else int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# --- Core -------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: set SECRET_KEY (or DEBUG=1 for local development); "
            "`make run` writes one into .env for you."
        )
    SECRET_KEY = "django-insecure-development-only-key"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "operations.apps.OperationsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files (works offline)
    "django_celery_results",
    "django_celery_beat",
    "django_prometheus",  # the web tier's request metrics on /metrics (operations.metrics)
    "operations",  # after the celery apps: its admin replaces theirs
    "etl",
    "scraping",
    "mlmodels",
    "predictions",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # first and last: times the whole request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "operations.logs.JobContextMiddleware",  # a request's log lines name only its own job
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "nbaproject.urls"
WSGI_APPLICATION = "nbaproject.wsgi.application"

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
                "predictions.context_processors.product_date",  # the header's "as of <AS_OF_DATE>"
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# Default: SQLite under var/ in WAL mode with a busy timeout, so web, workers and
# beat can share it. Production: DATABASE_URL=postgres://user:pass@host:5432/name
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests on SQLite need a file, not :memory:, so a worker process can see it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- I18N / time --------------------------------------------------------------
# Storage and beat stay in UTC; TIME_ZONE only changes how dates are shown.
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# collectstatic compresses (brotli, gzip) only the hashed names the pages use, and not the API docs'
# source maps (megabytes only a browser's developer tools ask for): minutes less on a slow machine.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# --- The product's "today" ------------------------------------------------------------
# AS_OF_DATE (YYYY-MM-DD) is "today" for the product: a player-only request means his next game
# after it, a slate defaults to it. Unset: today's date in UTC. Set it inside a loaded season to
# replay that season (the embedded default of .env.example does, so make run works offline).
AS_OF_DATE = env("AS_OF_DATE")
# A prediction request is refused (HTTP 422) when its answer would rest on missing or stale data:
# no played game in the warehouse in the PREDICTIONS_STALE_DATA_DAYS before the requested date, or
# fewer than PREDICTIONS_MIN_RECENT_GAMES games of the player in the
# PREDICTIONS_RECENT_GAMES_WINDOW_DAYS before it.
PREDICTIONS_STALE_DATA_DAYS = env_int("PREDICTIONS_STALE_DATA_DAYS", 200)
PREDICTIONS_MIN_RECENT_GAMES = env_int("PREDICTIONS_MIN_RECENT_GAMES", 5)
PREDICTIONS_RECENT_GAMES_WINDOW_DAYS = env_int("PREDICTIONS_RECENT_GAMES_WINDOW_DAYS", 365)
# A slate silent this many seconds (queued and never planned, or no game finished) lost its
# messages: the slate sweeper (beat, every 30 s) publishes its missing game tasks or summary again.
# Above a game task's time limit (150 s).
SLATES_STUCK_TIMEOUT = env_int("SLATES_STUCK_TIMEOUT", 300)
# The prediction pipeline's sweeper (beat, every 30 s) publishes again a request queued longer than
# PREDICTIONS_QUEUED_TIMEOUT seconds or silent in a step longer than PREDICTIONS_RUNNING_TIMEOUT, at
# most PREDICTIONS_MAX_ATTEMPTS runs; a step started PREDICTIONS_MAX_STEP_STARTS times (it keeps
# killing its worker) fails the request instead. An events stream (SSE) closes after
# PREDICTIONS_SSE_LIFETIME seconds and the browser reconnects. PREDICTIONS_BROKER_URL, normally
# unset, publishes predictions through another broker than CELERY_BROKER_URL (tests: a dead port).
PREDICTIONS_QUEUED_TIMEOUT = env_int("PREDICTIONS_QUEUED_TIMEOUT", 300)
PREDICTIONS_RUNNING_TIMEOUT = env_int("PREDICTIONS_RUNNING_TIMEOUT", 300)
PREDICTIONS_MAX_ATTEMPTS = env_int("PREDICTIONS_MAX_ATTEMPTS", 5)
PREDICTIONS_MAX_STEP_STARTS = env_int("PREDICTIONS_MAX_STEP_STARTS", 5)
PREDICTIONS_SSE_LIFETIME = env_int("PREDICTIONS_SSE_LIFETIME", 60)
PREDICTIONS_BROKER_URL = env("PREDICTIONS_BROKER_URL", "")
# "Who is out": the most players a prediction or a slate may declare out (injured, resting); a longer
# list is refused with a 400.
PREDICTIONS_MAX_OUT_PLAYERS = env_int("PREDICTIONS_MAX_OUT_PLAYERS", 15)

# --- Models ------------------------------------------------------------------------
MODEL_DIR = Path(env("MODEL_DIR", str(VAR_DIR / "models")))
# Model kinds (mlmodels.kinds): modules that each train and predict one kind of quantile model.
# Training fits each, the prediction pipeline runs each in parallel and averages them.
MODEL_KINDS = env_list("MODEL_KINDS", "mlmodels.kinds.lightgbm,mlmodels.kinds.keras")
BUNDLED_DATA_DIR = BASE_DIR / "etl" / "data"

# --- Security (production turns these on; see .env.example) -----------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_REQUEST_BYTES", 64 * 1024)
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "predictions.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", "120/min"),
        "user": env("THROTTLE_USER", "1200/min"),
        "predictions": env("THROTTLE_PREDICTIONS", "120/min"),
    },
    # Throttles tell clients apart by REMOTE_ADDR, or behind the TLS proxy by the address it
    # appended to X-Forwarded-For: an X-Forwarded-For sent by the client itself is never trusted.
    "NUM_PROXIES": 1 if env_bool("BEHIND_TLS_PROXY", False) else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "nbaproject API",
    "DESCRIPTION": "Calibrated points ranges for NBA players, computed by LightGBM and Keras models on Celery.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Cache (throttling state); shared across processes via the database ---------------
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "nbaproject_cache",
    }
}

# --- Celery -----------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/broker (no server needed,
# works across processes). Production: CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:5672//
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.rstrip("/") == "filesystem:":
    CELERY_BROKER_URL = "filesystem://localhost//"  # the host is unused; naming it stops kombu's warning
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "nbaproject.broker:Transport"  # kombu's, with atomic writes (see broker.py)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # kombu's default is ./control
        "store_processed": False,
        "polling_interval": 0.1,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
# Queues keep long work away from users: `predictions` (user-facing, short), `ml`
# (training), `scraping` (crawls), `etl` (loads), `default` (housekeeping). Names can be
# prefixed (CELERY_QUEUE_PREFIX) so a test run never shares queues with a running app.
CELERY_QUEUE_PREFIX = env("CELERY_QUEUE_PREFIX", "")
QUEUE_NAMES = ("predictions", "ml", "scraping", "etl", "default")
CELERY_TASK_QUEUES = {CELERY_QUEUE_PREFIX + name: {"routing_key": CELERY_QUEUE_PREFIX + name} for name in QUEUE_NAMES}
CELERY_TASK_DEFAULT_QUEUE = CELERY_QUEUE_PREFIX + "default"
CELERY_TASK_ROUTES = {
    f"{app}.tasks.*": {"queue": CELERY_QUEUE_PREFIX + queue}
    for app, queue in (("predictions", "predictions"), ("mlmodels", "ml"), ("scraping", "scraping"), ("etl", "etl"))
}
# django-db, subclassed: retries on any lost connection and records the queue.
CELERY_RESULT_BACKEND = "operations.results:ResultBackend"
CELERY_CACHE_BACKEND = "django-cache"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
# Every task in this project is written to be idempotent, so a task is only
# acknowledged once it finished and is redelivered when its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Default limits; long tasks (crawl, training) set their own, always below RabbitMQ's
# consumer_timeout (30 min by default) so an unacked late-ack task is never cut off.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 10
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 1000)
# A prediction worker's pool process loads the models before it reports ready (a few
# seconds: predictions/worker.py); Celery's default wait for that is 4 s.
CELERY_WORKER_PROC_ALIVE_TIMEOUT = 60
# Task events (task-sent, -received, -started, -succeeded) are for event monitors such as
# Flower; nothing in the project reads them (the dashboard reads TaskResult rows and our own
# job rows), and each is one more broker message per task. CELERY_TASK_EVENTS=1 turns them on.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_TASK_EVENTS", False)
CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS
# Every worker writes a heartbeat file (VAR_DIR/workers/) this often, so the staff Pipeline page
# can list the workers on any broker (the embedded one cannot answer `inspect`).
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10)
# DatabaseScheduler (django-celery-beat) guarded by a lock, so a second beat started by
# mistake stands by instead of double-sending; last_run_at is saved after every send.
CELERY_BEAT_SCHEDULER = "operations.beat:SingleBeatDatabaseScheduler"
CELERY_BEAT_SYNC_EVERY = 1
CELERY_RESULT_EXPIRES = None  # old TaskResults are cleaned up by our own scheduled task

# --- Metrics (/metrics, operations.metrics) -------------------------------------------
# Besides staff, these client addresses or networks (comma-separated) may read /metrics: where
# Prometheus scrapes from. Behind a proxy the address is the proxy's. Default: the machine itself.
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
try:
    import ipaddress as _ipaddress

    [_ipaddress.ip_network(_item, strict=False) for _item in METRICS_ALLOWED_IPS]
except ValueError as _exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {_exc} (use addresses or networks, e.g. 10.0.0.0/8).") from None

# --- Logging ------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", "INFO")
# plain: one readable line; json: one JSON object per line (for log collectors). Either way a line
# written while a prediction or another job is handled names it (operations.logs), in the web
# process and in the workers, so `grep <request id>` over all logs tells one request's story.
LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "operations.logs.JobFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s: %(job)s%(message)s",
        },
        "json": {"()": "operations.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "scrapy": {"level": env("SCRAPY_LOG_LEVEL", "INFO")},
        # JAX logs its probe of absent accelerators ("Unable to initialize backend 'tpu'") at INFO.
        "jax._src.xla_bridge": {"level": "WARNING"},
    },
}
