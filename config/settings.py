"""Settings, driven by the environment.

No environment variables = the embedded default: PostgreSQL and Redis run from pip packages under
./var (see config/embedded.py). Reading these settings starts nothing: manage.py and the test session
start the embedded servers and put their URLs in the environment; with a URL still unset, the settings
point where the embedded servers under $AGORA_VAR_DIR listen (config.embedded.recorded_urls).
``DATABASE_URL`` and ``REDIS_URL`` point at servers an operator runs instead. One code path either way:
everything below reads only those two URLs.

Values are read by config/env.py, which refuses one that does not parse (a yes/no, a number) with the
variable's name.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.env import env, env_bool, env_float, env_int, env_list

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION = env("AGORA_ENV", "development") == "production"
# Debug pages only when asked for (DJANGO_DEBUG=1): `make run` shows what production shows, the
# error pages included, and a traceback never reaches a visitor by default.
DEBUG = env_bool("DJANGO_DEBUG", False)

# True when this process uses the embedded servers (`manage.py serve` stops them on exit).
EMBEDDED = embedded.ensured_here() or not env("DATABASE_URL") or not env("REDIS_URL")
if PRODUCTION and (not env("DATABASE_URL") or not env("REDIS_URL")):
    raise ImproperlyConfigured(
        "AGORA_ENV=production needs DATABASE_URL and REDIS_URL; the embedded servers are for development and demos."
    )
# For a URL left unset: where the embedded servers listen, read from their state file (nothing started).
# (Lower case: not a setting, so the database URL and its password never show on a debug page.)
_embedded_urls = embedded.recorded_urls() if EMBEDDED else {}

SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("AGORA_ENV=production needs DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE).")
    SECRET_KEY = "agora-development-key-not-for-production"


ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "axes",
    "django_htmx",
    "template_partials",
    "annotation",
    "agora_datasets",  # label "datasets"
    "arena",
    "ratings",
    "workers",
    "ninja",  # its static files: the API docs page (Swagger UI) without a CDN
    "api",
    "config",  # the project's own management commands (`manage.py serve`)
]

MIDDLEWARE = [
    # First: every address-based limit and the HTTPS checks below read what it leaves in REMOTE_ADDR.
    "config.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.refusals.ExplainRefusalsMiddleware",
    "arena.voters.VoterKeyMiddleware",
    # Last: turns a login refused for too many failures into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

# Behind a reverse proxy: its addresses or networks, comma-separated (e.g. "10.0.0.2,172.16.0.0/12").
# From those peers X-Forwarded-For gives the visitor's address and X-Forwarded-Proto the scheme
# (config/proxies.py); from any other peer both headers are ignored. Empty: no proxy is trusted.
AGORA_TRUSTED_PROXIES = env_list("AGORA_TRUSTED_PROXIES")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if AGORA_TRUSTED_PROXIES else None

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# A psycopg connection pool per process. Under ASGI every request runs in a fresh context, so
# persistent connections (CONN_MAX_AGE) are never reused there: each request would open its own.
# conn_health_checks: the pool checks a connection before lending it (psycopg_pool's check_connection),
# so one that a PostgreSQL restart left dead is replaced, not handed to a request. (Django passes it to
# the pool itself; a "check" key in the pool options below would clash with it.)
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or _embedded_urls["DATABASE_URL"], conn_max_age=0, conn_health_checks=True
    )
}
DATABASES["default"]["OPTIONS"] = {
    "pool": {"min_size": 1, "max_size": env_int("AGORA_DB_POOL_SIZE", 16), "timeout": 20},
}

REDIS_URL = env("REDIS_URL") or _embedded_urls["REDIS_URL"]

# Redis pub/sub rather than the list-based layer: a streamed chunk is one PUBLISH, and a web
# process receives pushed messages instead of polling one channel at a time (the list layer's
# receive costs four round trips per message under one lock, which caps a process near 1k
# messages/s). Pub/sub keeps nothing for absent listeners; the stream buffer covers late joiners
# (workers/publishing.py).
# The same Redis eight times: the layer keeps one subscriber connection per host, and each
# socket's (un)subscribes wait in turn on that connection's lock, every one held across a
# round trip. With one, a socket's join waited ~1 s at 50 visitors in benchmarks/streaming.py;
# with eight, ~0.1 s. Channels and groups are spread over them by name; Redis is still one.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL] * 8, "prefix": env("AGORA_CHANNELS_PREFIX", "agora")},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# One result backend per process, not one per thread: the web process serves each request on a new
# thread, and building a backend there costs ~3 ms of CPU on every battle it enqueues.
CELERY_RESULT_BACKEND_THREAD_SAFE = True
# A worker killed mid-task leaves its task to the broker, which hands it out again after the visibility
# timeout (an hour on Redis); a streaming answer's heartbeat tells the reaper long before.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env("AGORA_CELERY_QUEUE", "agora")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat: the reaper fails answers past their deadline or whose worker went silent, and sends again
# those nobody claimed (arena/heartbeat.py).
CELERY_BEAT_SCHEDULE = {
    "reap-stale-answers": {
        "task": "workers.reap_stale_answers",
        "schedule": env_float("AGORA_REAP_INTERVAL_S", 5),
    },
    "expire-leases": {
        "task": "annotation.expire_leases",
        "schedule": env_float("AGORA_LEASE_CHECK_S", 15),
    },
    "refresh-ratings": {
        "task": "ratings.refresh_due",
        "schedule": env_float("AGORA_RATINGS_CHECK_S", 30),
    },
    "review-judges": {
        "task": "ratings.review_judges",
        "schedule": env_float("AGORA_JUDGE_REVIEW_S", 300),
    },
}

# Dataset exports run in the background write their files here, one folder per job.
AGORA_EXPORT_DIR = Path(env("AGORA_EXPORT_DIR", str(Path(env("AGORA_VAR_DIR", str(BASE_DIR / "var"))) / "exports")))

# Annotation quality flags (annotation/dashboard.py): accuracy below this on gold or by Dawid–Skene,
# answers faster than this many seconds or than this fraction of the project's median time.
AGORA_QUALITY_MIN_ACCURACY = env_float("AGORA_QUALITY_MIN_ACCURACY", 0.6)
AGORA_QUALITY_MIN_SECONDS = env_float("AGORA_QUALITY_MIN_SECONDS", 2)
AGORA_QUALITY_MEDIAN_FRACTION = env_float("AGORA_QUALITY_MEDIAN_FRACTION", 0.25)

# Ratings: the boards kept current, and when a board is stale (ratings/services.refresh_due).
AGORA_RATINGS_BOARDS = [
    {"method": "bt"},
    {"method": "bt", "style": True, "ci": "sandwich"},
    {"method": "rao-kupper"},
]
AGORA_RATINGS_EVERY_JUDGMENTS = env_int("AGORA_RATINGS_EVERY_JUDGMENTS", 100)
AGORA_RATINGS_INTERVAL_S = env_float("AGORA_RATINGS_INTERVAL_S", 600)
# The judges' review (ratings/judge_review.py): a judge with more arena votes than this in one clock
# hour is flagged (the vote rate limit, AGORA_ARENA_VOTES_PER_MINUTE, bounds a minute, not a day).
AGORA_JUDGE_MAX_VOTES_PER_HOUR = env_int("AGORA_JUDGE_MAX_VOTES_PER_HOUR", 120)
# ... and each voter key of an address more keys voted from (high: offices and campuses share addresses).
AGORA_JUDGE_MAX_KEYS_PER_ADDRESS = env_int("AGORA_JUDGE_MAX_KEYS_PER_ADDRESS", 20)
# The prompt-routed mixture embeds each distinct prompt of a board: at most this many per fit.
AGORA_MIXTURE_MAX_PROMPTS = env_int("AGORA_MIXTURE_MAX_PROMPTS", 20000)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Failed logins are counted (django-axes, config/login_limits.py) before any password is checked.
AUTHENTICATION_BACKENDS = [
    "config.login_limits.LoginLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Five failures for one account from one address lock that pair out for 15 minutes (a further failure
# meanwhile starts the 15 minutes again; a success clears the count); fifty failures from one address,
# across any accounts, lock the address out. The address is REMOTE_ADDR, as for the arena's limits: the
# peer's, or behind a trusted proxy the visitor's (config/proxies.py).
AXES_FAILURE_LIMIT = env_int("AGORA_LOGIN_FAILURES", 5)
AGORA_LOGIN_FAILURES_PER_IP = env_int("AGORA_LOGIN_FAILURES_PER_IP", 50)
AXES_COOLOFF_TIME = timedelta(minutes=env_float("AGORA_LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "config.login_limits.LoginFailuresHandler"
AXES_CLIENT_IP_CALLABLE = "config.login_limits.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "config.login_limits.lockout_response"  # registration/locked_out.html, 429
AXES_VERBOSE = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

# Security headers. The policy allows scripts, styles and connections (the arena's websocket: 'self'
# covers ws:/wss: to the same host) from this origin only: no inline script or style anywhere, no
# eval (htmx's allowEval is off in templates/base.html), no framing.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# HSTS in production only (sent on HTTPS requests): a year, this host only.
SECURE_HSTS_SECONDS = 365 * 24 * 3600 if PRODUCTION else 0

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

# Anonymous arena visitors get a random key in a signed cookie: pseudonymous, no login.
VOTER_COOKIE_NAME = "agora_voter"
VOTER_COOKIE_MAX_AGE = 365 * 24 * 3600

# The replay backend and the demo read the LLMFAO data shipped beside the project.
AGORA_DATA_DIR = Path(env("AGORA_DATA_DIR") or BASE_DIR.parent / "shared" / "data")

# The arena's rules. Limits protect the model servers and keep prompts reviewable;
# rate limits count prompts (new battles and follow-up turns) per visitor and per IP.
AGORA_ARENA_MAX_PROMPT_CHARS = env_int("AGORA_ARENA_MAX_PROMPT_CHARS", 8000)
AGORA_ARENA_MAX_TURNS = env_int("AGORA_ARENA_MAX_TURNS", 8)
AGORA_ARENA_MAX_RATIONALE_CHARS = env_int("AGORA_ARENA_MAX_RATIONALE_CHARS", 4000)
AGORA_ARENA_PROMPTS_PER_MINUTE = env_int("AGORA_ARENA_PROMPTS_PER_MINUTE", 20)
AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP = env_int("AGORA_ARENA_PROMPTS_PER_MINUTE_PER_IP", 120)
# Votes, counted the same way (a retried vote counts too: the limits leave room for it).
AGORA_ARENA_VOTES_PER_MINUTE = env_int("AGORA_ARENA_VOTES_PER_MINUTE", 30)
# Requests a minute per API token (a token may carry its own limit); over it: 429 with Retry-After.
AGORA_API_REQUESTS_PER_MINUTE = env_int("AGORA_API_REQUESTS_PER_MINUTE", 600)
AGORA_ARENA_VOTES_PER_MINUTE_PER_IP = env_int("AGORA_ARENA_VOTES_PER_MINUTE_PER_IP", 300)
# Extra seconds past a model's timeout before the reaper fails an answer whose worker vanished.
AGORA_ARENA_DEADLINE_GRACE_S = env_float("AGORA_ARENA_DEADLINE_GRACE_S", 5)
# Dotted paths of the pluggable parts (arena/sampling.py, arena/moderation.py).
# Agora's information-seeking draw (arena/sampling.py); benchmarks/sampling.py compares it with the others.
AGORA_SAMPLING_POLICY = env("AGORA_SAMPLING_POLICY", "arena.sampling.InformationPolicy")
AGORA_MODERATION = env("AGORA_MODERATION", "arena.moderation.blocklist")
AGORA_MODERATION_BLOCKLIST = env_list("AGORA_MODERATION_BLOCKLIST")
# Replay models stream recorded answers at their recorded rate times this factor.
AGORA_REPLAY_SPEED = env_float("AGORA_REPLAY_SPEED", 1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("AGORA_LOG_LEVEL", "INFO")},
}
