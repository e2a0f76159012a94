"""Settings, all from the environment with safe defaults (see README "Configuration").

Unset service variables mean the embedded default: SQLite, a local Redis, the local Cosmos emulator.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from returns_console.database_pool import forget_pools_after_fork, postgres_options
from returns_console.environment import env_int
from returns_console.security import MiddlewareList, fail_closed_flag, production_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)


def _local_secret_key() -> str:
    """A key generated once per checkout, so processes on one machine agree without a shared secret.

    Production sets SECRET_KEY; this only keeps local runs working and never ships a known key.
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()


# DEBUG=false refuses to start without a strong SECRET_KEY of its own (returns_console/security.py says why).
_GIVEN_SECRET_KEY = os.environ.get("SECRET_KEY", "")
SECRET_KEY = _local_secret_key() if DEBUG and not _GIVEN_SECRET_KEY else production_secret_key(_GIVEN_SECRET_KEY)
# Keys being rotated out, comma-separated: sessions, signed conversation ids and CSRF tokens made with them still
# verify, so rotating SECRET_KEY signs nobody out and loses no conversation.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Served over HTTPS, directly or behind a proxy that terminates TLS and sets X-Forwarded-Proto (the proxy must
# overwrite that header): plain HTTP is redirected, cookies are Secure, browsers are told HSTS. /healthz is not
# redirected: load balancers probe it inside the network. Off only for plain-HTTP runs (tests, benchmarks).
HTTPS_ONLY = fail_closed_flag(os.environ.get("HTTPS_ONLY"), default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS_ONLY else None
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 86400 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = fail_closed_flag(os.environ.get("SECURE_HSTS_INCLUDE_SUBDOMAINS"), default=True)
SECURE_HSTS_PRELOAD = fail_closed_flag(os.environ.get("SECURE_HSTS_PRELOAD"), default=True)
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "customers",
    "chat",
    "returns_console",
]

# Django's own middleware, with hooks that run inline on the event loop (returns_console/middleware.py). A
# MiddlewareList, so Django's deploy checks recognise these subclasses of its middleware.
MIDDLEWARE = MiddlewareList(
    [
        "returns_console.middleware.SecurityMiddleware",
        "returns_console.middleware.ContentSecurityPolicyMiddleware",
        "servestatic.middleware.ServeStaticMiddleware",  # async-native, unlike WhiteNoise
        "returns_console.middleware.SessionMiddleware",
        "returns_console.middleware.LocaleMiddleware",
        "returns_console.middleware.CommonMiddleware",
        "returns_console.middleware.CsrfViewMiddleware",
        "returns_console.middleware.AuthenticationMiddleware",
        "returns_console.middleware.MessageMiddleware",
        "returns_console.middleware.XFrameOptionsMiddleware",
    ]
)

ROOT_URLCONF = "returns_console.urls"
ASGI_APPLICATION = "returns_console.asgi.application"

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
                "returns_console.context_processors.live_sockets",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Each request's thread is pooled (request_threads.py), so its connection can live on: opening one (the file,
    # the pragmas, Django's SQL functions) cost every chat turn ~3% of its CPU. A file has no server to tire out.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0)
    # Many concurrent writers (sign-ins, proposals) on one file: WAL lets readers carry on, IMMEDIATE takes the
    # write lock up front instead of failing on upgrade, and a longer timeout queues writers rather than erroring.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A pooled connection is checked before it is lent, so one dropped by a database restart is replaced
    # rather than failing a request.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),  # e.g. ?sslmode=require from the URL
        **postgres_options(os.environ, DATABASES["default"]["CONN_MAX_AGE"]),
    }
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    forget_pools_after_fork()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Customer-facing text is translated (locale/); the browser's language chooses. British English is listed so its
# dates read "26 Nov" (its words are the source English).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("en-gb", "English (UK)"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Chart.js comes from npm (package.json) and is served from here like our own files: no CDN.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist")]
# Set where `collectstatic` runs (the Docker image); locally files are served from the app folders.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
SERVESTATIC_USE_FINDERS = STATIC_ROOT is None

LOGIN_URL = "/admin/login/"
# Staff sign-in (/admin/login/, which the console uses too) locks after this many failures per username and per
# client address within the window, even for the right password (returns_console/login_throttle.py).
STAFF_LOGIN_FAILURES_PER_USER = env_int("STAFF_LOGIN_FAILURES_PER_USER", 5, minimum=1)
STAFF_LOGIN_FAILURES_PER_ADDRESS = env_int("STAFF_LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
STAFF_LOGIN_WINDOW_SECONDS = env_int("STAFF_LOGIN_WINDOW_SECONDS", 15 * 60, minimum=1)
# /mcp: wrong tokens per client address within STAFF_LOGIN_WINDOW_SECONDS, and requests per token per minute (a
# staff member's AI client in a loop); beyond either, 429 with Retry-After (returns_console/mcp_auth.py).
MCP_FAILED_TOKENS_PER_ADDRESS = env_int("MCP_FAILED_TOKENS_PER_ADDRESS", 20, minimum=1)
MCP_CALLS_PER_MINUTE = env_int("MCP_CALLS_PER_MINUTE", 120, minimum=1)
# Proxies in front of the app that append to X-Forwarded-For; 0 uses the peer address (chat/client_address.py).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Redis: channel layer, Celery broker, rate limits ---------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Sessions are read on every chat turn: from Redis, with the database behind it for durability.
CACHES = {
    "default": {
        "BACKEND": "returns_console.cache.SharedPoolRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "returns-console",
    }
}
SESSION_ENGINE = "returns_console.sessions"

# Redis pub/sub: messages are pushed to each web process as they are published. The list-based layer pops one
# message per round trip per process, which falls behind when every event fans out to every dashboard. Pub/sub
# delivers at most once, so nothing relies on it alone: pushed chat items are stored first (a page reloads its
# thread after a reconnect) and console events are numbered and kept, so a dashboard resyncs any gap.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}
# A turn's events reach the dashboards in bursts (chat/mirror.py): at the turn's end, or this many milliseconds
# after the first event of a longer turn. Each burst first stores the turn's held writes, so 100 ms (was 5) keeps a
# guided turn (10-40 ms) to one Cosmos batch. bench/console.py on 2026-11-28: mirror lag p99 43.6 ms at 100 ms and
# 41.2 ms at 5 ms (the code before), both over its target of 2x the Redis round trip + 5 ms on that loaded day.
MIRROR_WINDOW_SECONDS = env_int("MIRROR_WINDOW_MS", 100, minimum=1) / 1000
# A dashboard socket gets the list's events (every conversation's) as one frame at most this often, and at once when
# the window has passed (returns_console/console/fanout.py); an open conversation's chat events are never held.
CONSOLE_FRAME_WINDOW_SECONDS = env_int("CONSOLE_FRAME_WINDOW_MS", 100, minimum=0) / 1000

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "returns")
# A dead worker's task comes back after this long (returns_console/celery.py sets the broker to it).
COMMIT_REDELIVERY_SECONDS = int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "300"))
# The sweep re-sends an approval whose commit has not started this long after it was approved (or re-sent);
# workers sweep at start and every COMMIT_SWEEP_INTERVAL_SECONDS. /healthz counts approvals past the bound.
COMMIT_RESEND_AFTER_SECONDS = int(os.environ.get("COMMIT_RESEND_AFTER_SECONDS", "60"))
COMMIT_SWEEP_INTERVAL_SECONDS = float(os.environ.get("COMMIT_SWEEP_INTERVAL_SECONDS", "60"))

# --- Cosmos DB (system of record) ---------------------------------------------------------------
COSMOS_ENDPOINT = os.environ.get("COSMOS_ENDPOINT", "https://127.0.0.1:8081")
# No key means Entra ID through azure-identity's DefaultAzureCredential.
COSMOS_KEY = os.environ.get("COSMOS_KEY", "")
COSMOS_DATABASE = os.environ.get("COSMOS_DATABASE", "returns")
# Local emulators use self-signed certificates; the real service is always verified.
COSMOS_VERIFY_TLS = env_bool("COSMOS_VERIFY_TLS", True)

# Azure AI Search for policy questions; unset means the embedded SQLite FTS5 index.
AZURE_SEARCH_ENDPOINT = os.environ.get("AZURE_SEARCH_ENDPOINT", "")
AZURE_SEARCH_KEY = os.environ.get("AZURE_SEARCH_KEY", "")  # empty: Entra ID via DefaultAzureCredential
AZURE_SEARCH_INDEX = os.environ.get("AZURE_SEARCH_INDEX", "returns-policies")
# Semantic product lookup on Azure AI Search (customers/search/catalog.py): vectors from this embedding deployment.
AZURE_SEARCH_CATALOG_INDEX = os.environ.get("AZURE_SEARCH_CATALOG_INDEX", "returns-catalog")
AZURE_OPENAI_EMBEDDING_DEPLOYMENT = os.environ.get("AZURE_OPENAI_EMBEDDING_DEPLOYMENT", "").strip()
AZURE_OPENAI_EMBEDDING_MODEL = os.environ.get("AZURE_OPENAI_EMBEDDING_MODEL", "text-embedding-3-small").strip()
AZURE_OPENAI_EMBEDDING_DIMENSIONS = int(os.environ.get("AZURE_OPENAI_EMBEDDING_DIMENSIONS", "256"))

# The customer chat's language model (chat/engine/llm/). Azure OpenAI when AZURE_OPENAI_ENDPOINT and
# AZURE_OPENAI_DEPLOYMENT are set (key, else Entra ID); otherwise any OpenAI-compatible server with OPENAI_API_KEY
# (OPENAI_BASE_URL, OPENAI_MODEL). None set: the offline guided assistant.
AZURE_OPENAI_ENDPOINT = os.environ.get("AZURE_OPENAI_ENDPOINT", "").strip()
AZURE_OPENAI_DEPLOYMENT = os.environ.get("AZURE_OPENAI_DEPLOYMENT", "").strip()
AZURE_OPENAI_API_KEY = os.environ.get("AZURE_OPENAI_API_KEY", "")
OPENAI_API_VERSION = os.environ.get("OPENAI_API_VERSION", "").strip()  # set: the legacy deployments route
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL", "").strip()
OPENAI_MODEL = os.environ.get("OPENAI_MODEL", "gpt-4.1-mini").strip()
LLM_TIMEOUT_SECONDS = float(os.environ.get("LLM_TIMEOUT_SECONDS", "20"))
LLM_MAX_RETRIES = int(os.environ.get("LLM_MAX_RETRIES", "2"))
_MODEL_CONFIGURED = bool((AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT) or OPENAI_API_KEY)
ASSISTANT_ENGINE = os.environ.get("ASSISTANT_ENGINE", "").strip().lower() or ("llm" if _MODEL_CONFIGURED else "guided")
if ASSISTANT_ENGINE not in {"guided", "llm"}:
    raise ImproperlyConfigured(f"ASSISTANT_ENGINE must be guided or llm, not {ASSISTANT_ENGINE!r}.")
if ASSISTANT_ENGINE == "llm" and not _MODEL_CONFIGURED:
    raise ImproperlyConfigured(
        "ASSISTANT_ENGINE=llm needs a model: AZURE_OPENAI_ENDPOINT + AZURE_OPENAI_DEPLOYMENT, or OPENAI_API_KEY."
    )

# With a domain key from OpenAI the chat page uses the official ChatKit web component (loaded from OpenAI's CDN)
# against our /chatkit endpoint; without one, or when the CDN cannot be reached, our own client renders it.
# Websockets can have Daphne processes of their own (make run and docker-compose do that): a dashboard's live
# feed then never waits behind page and chat requests on a busy process (bench/console.py measures both).
# Pages open their sockets on this port of the host they came from; empty means the page's own port, as when
# one process serves everything or a proxy routes /ws/ on the same port.
WEBSOCKET_PORT = os.environ.get("WEBSOCKET_PORT", "").strip()
if WEBSOCKET_PORT and not (WEBSOCKET_PORT.isdigit() and 0 < int(WEBSOCKET_PORT) < 65536):
    raise ImproperlyConfigured(f"WEBSOCKET_PORT must be a port number, not {WEBSOCKET_PORT!r}.")
CHATKIT_DOMAIN_KEY = os.environ.get("CHATKIT_DOMAIN_KEY", "")
CHATKIT_SCRIPT_URL = "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js"

# The store's calendar: return windows are counted in whole days in this zone.
STORE_TIMEZONE = os.environ.get("STORE_TIMEZONE", TIME_ZONE)
try:
    ZoneInfo(STORE_TIMEZONE)
except (ValueError, ZoneInfoNotFoundError) as error:
    raise ImproperlyConfigured(
        f"STORE_TIMEZONE must be an IANA time zone such as Europe/Paris, not {STORE_TIMEZONE!r}."
    ) from error

# Where customers' parcels go, printed on their return labels (customers/services/labels.py): lines split by newlines,
# a written "\n" or "|"; empty means the demo returns centre.
RETURN_ADDRESS = os.environ.get("RETURN_ADDRESS", "").strip() or (
    "Returns Centre|Unit 4, Riverside Park|Manchester M17 1AB|United Kingdom"
)


def clock_offset_seconds(raw: str) -> float:
    """The app clock's shift from the system's (customers.clock): a finite number of seconds, default 0."""
    try:
        seconds = float(raw or 0)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or abs(seconds) > 100 * 366 * 86400:
        raise ImproperlyConfigured(f"CLOCK_OFFSET_SECONDS must be a number of seconds, not {raw!r}.")
    return seconds


# Demos and tests of another day: every process of the app shifts its clock by the same amount.
CLOCK_OFFSET_SECONDS = clock_offset_seconds(os.environ.get("CLOCK_OFFSET_SECONDS", ""))

DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "returns-demo")

# /healthz tells anyone only its status; the checks (hosts, versions, errors) go to signed-in staff and to callers
# with "Authorization: Bearer <HEALTHZ_TOKEN>". Empty: no token works.
HEALTHZ_TOKEN = os.environ.get("HEALTHZ_TOKEN", "").strip()
if HEALTHZ_TOKEN and len(HEALTHZ_TOKEN) < 32:
    raise ImproperlyConfigured("HEALTHZ_TOKEN must be empty or at least 32 characters (e.g. openssl rand -hex 32).")

# What one client can send (returns_console/body_limit.py, chat/limits.py): bodies are refused with 413 however
# they arrive (chunked included), per path prefix, before Django reads them.
REQUEST_BODY_LIMIT_BYTES = env_int("REQUEST_BODY_LIMIT_BYTES", 1024 * 1024, minimum=1024)
REQUEST_BODY_LIMITS = {"/chatkit": 64 * 1024, "/chat/session": 4 * 1024, "/console/api/": 64 * 1024, "/mcp": 64 * 1024}
CHAT_MESSAGE_MAX_CHARS = env_int("CHAT_MESSAGE_MAX_CHARS", 4000, minimum=1)
CHAT_THREAD_TITLE_MAX_CHARS = 120
# Turns (messages and clicks) one conversation holds; each adds a few items, so this bounds a thread's items.
CHAT_THREAD_MAX_TURNS = env_int("CHAT_THREAD_MAX_TURNS", 300, minimum=10)
# Per-customer token bucket on /chatkit: a burst of CHAT_RATE_BURST requests, refilled at CHAT_RATE_PER_MINUTE.
CHAT_RATE_BURST = env_int("CHAT_RATE_BURST", 20, minimum=1)
CHAT_RATE_PER_MINUTE = env_int("CHAT_RATE_PER_MINUTE", 40, minimum=1)
# The chat shows choices from copies of a customer and of catalog products read at most this long ago (0: never);
# orders are always read, and filing reads everything afresh.
REFERENCE_DATA_MAX_AGE_SECONDS = env_int("REFERENCE_DATA_MAX_AGE_SECONDS", 60, minimum=0)
# Turns one web process works on at once, the rest admitted in order (chat/turn_slots.py; 0: no limit). The
# guided assistant's turns are CPU (of 4, 8 and 16 at 200 customers on 2 cores, 8 gave the shortest tail:
# docs/scaling.md); a model's turns mostly wait on the model, so by default they are not held back.
TURN_CONCURRENCY = env_int("TURN_CONCURRENCY", 8 if ASSISTANT_ENGINE == "guided" else 0, minimum=0)
# Open return requests a new one may share units with (customers/services/overlaps.py): one more is refused.
OVERLAPPING_REQUESTS_ALLOWED = env_int("OVERLAPPING_REQUESTS_ALLOWED", 1, minimum=0)
# How long the console feed keeps a conversation's events for dashboards that reconnect (its newest 1,000); one
# away longer reads the conversation instead (returns_console/console/events.py).
CONSOLE_FEED_LOG_SECONDS = env_int("CONSOLE_FEED_LOG_SECONDS", 24 * 3600, minimum=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"azure": {"level": "WARNING"}},
}
