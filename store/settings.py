"""Settings for the Workflow Store, read from the environment in this one place.

Every setting an operator may change is documented in docs/configuration.md.
Defaults serve one machine (SQLite file, django-q2 ORM broker, a file cache in DATA_DIR);
DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""
import os
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

from store.env import env_bool, env_float, env_int, env_list, env_money
from store.secret_key import secret_key_read

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))

# From the environment, else the machine's own key that `make run` keeps in DATA_DIR
# (store/secret_key.py); never a key written in the repository.
try:
    SECRET_KEY = os.environ.get("SECRET_KEY", "") or secret_key_read(DATA_DIR)
except ValueError as error:
    raise ImproperlyConfigured(str(error)) from None
if not SECRET_KEY:
    raise ImproperlyConfigured(
        f"SECRET_KEY is not set and {DATA_DIR / 'secret_key'} does not exist. Set SECRET_KEY in the "
        "environment (every machine of a deployment needs the same one), or run `make run`, which "
        "creates a random key for this machine in DATA_DIR."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "localhost,127.0.0.1")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "django_htmx",
    "django_prometheus",
    "django_q",
    "axes",
    "csp",
    "auditlog",
    "django_otp",
    "accounts.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp, named for the admin
    "accounts.apps.RecoveryCodesConfig",  # django_otp.plugins.otp_static
    "sorl.thumbnail",
    "store",
    "accounts",
    "catalog",
    "providers",
    "orders",
    "notifications",
    "webhooks",
    "workflows",
    "storefront",
    "backoffice",
    # Each app's admin module loads in this order: the back office's, after the libraries', replaces
    # their admins. Django's admin comes after it, so the back office's templates override its own.
    "backoffice.apps.StoreAdminConfig",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "store.middleware.RequestIdMiddleware",
    "store.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "store.middleware.ProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "store.middleware.SessionMiddleware",  # Django's, with a 503 when the database cannot save it
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Marks the session's user verified (user.is_verified()) once a second factor was given.
    "django_otp.middleware.OTPMiddleware",
    "store.middleware.SessionUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "store.middleware.CSPMiddleware",  # django-csp's, its header built once per policy
    "django_htmx.middleware.HtmxMiddleware",
    "store.middleware.HtmxSignInRedirectMiddleware",
    "store.audit.AuditActorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks (accounts/signin.py says what it does with a locked sign-in).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "store.urls"
WSGI_APPLICATION = "store.wsgi.application"
ASGI_APPLICATION = "store.asgi.application"

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
                "storefront.context_processors.header",
                "notifications.context_processors.header",
            ],
            # `{{ amount|money }}` in every template: amounts are shown one way (store.money).
            "builtins": ["store.templatetags.money"],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# SQLite (default) runs in WAL mode with IMMEDIATE transactions and a busy timeout, so the
# web, worker and scheduler processes can write at once without "database is locked".
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
}
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# Which process this is: a worker cluster (`manage.py qcluster`) or anything else (gunicorn's workers).
_IN_WORKER = len(sys.argv) > 1 and sys.argv[1] == "qcluster"
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        # Seconds to open a connection: a database that does not answer fails fast (503, retried runs).
        _options.setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5, minimum=1))
        # A statement running longer than this is cancelled (ms; 0: no limit, e.g. for a long migration).
        _statement_timeout = env_int("DB_STATEMENT_TIMEOUT_MS", 30000, minimum=0)
        if _statement_timeout:
            _options["options"] = f"{_options.get('options', '')} -c statement_timeout={_statement_timeout}".strip()
        # Connections per process, bounded by a pool (store/database.py; docs/operations.md sizes it).
        # A gunicorn worker needs one per thread; a worker cluster's process one for the run that holds
        # its turn and one for its task loop (runs hand theirs back while they wait, store.turns).
        if env_bool("DB_POOL", True):
            DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections; Django must not
            _options["pool"] = {
                "min_size": env_int("DB_POOL_MIN_SIZE", 1, minimum=0),
                "max_size": env_int("DB_POOL_MAX_SIZE", 4 if _IN_WORKER else env_int("GUNICORN_THREADS", 4, minimum=1),
                                    minimum=1),
                # Seconds a thread waits for a connection (a free one, or the pool's reconnection after a
                # database restart), then OperationalError: a 503, a retried run.
                "timeout": env_float("DB_POOL_TIMEOUT", 5, minimum=0.1),
            }
            if _options["pool"]["min_size"] > _options["pool"]["max_size"]:
                raise ImproperlyConfigured("DB_POOL_MIN_SIZE is above DB_POOL_MAX_SIZE.")
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "store.sqlite3",
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # the database holds sessions and tokens
    DATABASES["default"]["OPTIONS"] = dict(SQLITE_OPTIONS)
    # Tests use a file (not :memory:) so a real qcluster process can share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_store.sqlite3")}
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.sqlite3": "store.sqlite",  # django-prometheus' backend, one writer per process
    # django-prometheus' backend, with a pool that reconnects promptly after a restart
    "django.db.backends.postgresql": "store.postgresql",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache and task queue -------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds a shared fragment lives after it is written (store/fragments.py); 0 turns sharing off.
FRAGMENT_CACHE_SECONDS = env_int("FRAGMENT_CACHE_SECONDS", 60, minimum=0)
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's own RedisCache, counted by django-prometheus (the module needs django-redis),
            # behind this process' Redis circuit breaker (store.circuit).
            "BACKEND": "store.cache.CircuitRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "store"),
            # A Redis that hangs must not hold a request: seconds to connect and to answer.
            "OPTIONS": {
                "socket_connect_timeout": env_float("REDIS_TIMEOUT", 0.5, minimum=0),
                "socket_timeout": env_float("REDIS_TIMEOUT", 0.5, minimum=0),
            },
        },
    }
    # Rendered fragments and serialized data keyed by what they show (store/fragments.py): the
    # same Redis under a prefix of their own.
    CACHES["fragments"] = {
        **CACHES["default"],
        "KEY_PREFIX": f"{CACHES['default']['KEY_PREFIX']}-fragments",
        "TIMEOUT": FRAGMENT_CACHE_SECONDS,
    }
else:
    CACHES = {
        # Shared by every process of the machine (store/cache.py), so the rate limits hold
        # across gunicorn's processes; never a per-process memory cache.
        "default": {
            "BACKEND": "store.cache.SharedFileCache",
            "LOCATION": str(DATA_DIR / "cache" / "default"),
            "OPTIONS": {"MAX_ENTRIES": env_int("CACHE_MAX_ENTRIES", 20000)},
        },
        # django-q2's ORM broker keeps cluster statuses in a cache; a file cache shared by the
        # processes of this machine lets /healthz (web) see the worker's (qcluster) status.
        "django_q": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache" / "django_q"),
        },
        # Rendered fragments and serialized data keyed by what they show (store/fragments.py): a
        # folder of their own, so their turnover never culls the rate-limit counters.
        "fragments": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache" / "fragments"),
            "TIMEOUT": FRAGMENT_CACHE_SECONDS,
            "OPTIONS": {"MAX_ENTRIES": env_int("FRAGMENT_CACHE_MAX_ENTRIES", 2000, minimum=10)},
        },
    }

Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "store"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": env_int("Q_TIMEOUT", 120, minimum=1),
    "retry": env_int("Q_RETRY", 180),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3, minimum=1),
    "poll": env_float("Q_POLL", 0.05),
    "guard_cycle": env_float("Q_GUARD_CYCLE", 0.5),
    "save_limit": env_int("Q_SAVE_LIMIT", 250),
    "ack_failures": True,
    "catch_up": False,
    "sync": env_bool("Q_SYNC", False),
    "label": "Task queue",
}
if REDIS_URL:
    # The broker's connection gives up too (redis-py reads these from the URL). A worker's reads
    # may wait longer than a web request's: its poll blocks on the queue for 1 s. A web process
    # only pushes tasks, and waits no longer for that than for the cache.
    _separator = "&" if "?" in REDIS_URL else "?"
    Q_CLUSTER["redis"] = (
        f"{REDIS_URL}{_separator}socket_connect_timeout={env_float('REDIS_TIMEOUT', 0.5)}"
        f"&socket_timeout={env_float('REDIS_BROKER_TIMEOUT', 5) if _IN_WORKER else env_float('REDIS_TIMEOUT', 0.5)}"
    )
    if _IN_WORKER:  # reads again within half a second of Redis' return, not django-q2's 10 s
        Q_CLUSTER["broker_class"] = "store.broker.OutageTolerantRedis"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["cache"] = "django_q"

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.validators.NotOnlyWhitespacePasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "catalog:product_list"
LOGOUT_REDIRECT_URL = "catalog:product_list"
# Django's cookie-then-session storage, its cookie signer made only when a message is read or written.
MESSAGE_STORAGE = "store.messages.FallbackStorage"
# django-axes first: it refuses a locked-out account before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Password-reset links (Django's own views) stay valid this long; a used link is refused.
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 3600, minimum=1)
# A staff invitation's link (accounts.staff), good until the person has set a password.
STAFF_INVITATION_TIMEOUT = env_int("STAFF_INVITATION_TIMEOUT", 7 * 86400, minimum=1)

# Failed sign-ins lock an account (django-axes, in the database every process shares) on every
# sign-in path: the pages, /api/auth/login and /admin/login/. The limit and the lock's length
# come from RATE_LIMITS["LOGIN_FAILURES"] (below), read per request by accounts.signin.
AXES_FAILURE_LIMIT = "accounts.signin.failure_limit"
AXES_COOLOFF_TIME = "accounts.signin.lockout_duration"
AXES_LOCKOUT_PARAMETERS = ["username"]  # per account; per-address limits are store.throttling's
# axes.W006 asks for the address among the lockout parameters: the lock is per account whatever
# the address, so guesses spread over many addresses still lock it; addresses have RATE_LIMITS["LOGIN"].
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_USERNAME_CALLABLE = "accounts.signin.attempted_email"
AXES_USERNAME_FORM_FIELD = "username"  # the key of authenticate()'s credentials and of the login forms
AXES_CLIENT_IP_CALLABLE = "store.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
# A wrong password while locked does not extend the lock: it ends LOGIN_FAILURES' period
# after the failure that started it, as the refusal's Retry-After says.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Staff who may refund orders or manage staff (superusers) give a second factor, a code from an
# authenticator app or a recovery code (django-otp; accounts/second_factor.py), before the admin
# or a staff action on any surface (store.permissions.second_factor_missing). On unless DEBUG.
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA", not DEBUG)
# Seconds an API token's second factor counts after the code was given, refreshes included; then
# a refresh gives a pair without it and the member signs in with a code again (12 hours: a shift).
STAFF_SECOND_FACTOR_MAX_AGE = env_int("STAFF_SECOND_FACTOR_MAX_AGE", 12 * 3600, minimum=60)
# Wrong codes make a device wait 1, 2, 4, … seconds (django-otp's throttling, which has no ceiling);
# the wait stops growing at this many seconds, so someone with only the password cannot lock a
# member out for days (accounts.second_factor).
STAFF_SECOND_FACTOR_MAX_WAIT = env_int("STAFF_SECOND_FACTOR_MAX_WAIT", 15 * 60, minimum=1)
# The name an authenticator app shows beside the account.
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Workflow Store")
# The admin's device pages never show a secret (a device is deleted and enrolled again instead).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# The audit trail of staff actions (store/audit.py): what django-auditlog records, with old and
# new values, tied to the request id of the change.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "catalog.product", "exclude_fields": ["created_at", "updated_at"]},
    "catalog.category",
    {"model": "workflows.reviewrule"},
    # Drafts edited and versions published: the pipeline's policy, who changed it and how.
    {"model": "workflows.workflowversion"},
    # Webhook endpoints: who pointed order data where; the signing secret never in the trail.
    {"model": "webhooks.webhookendpoint", "mask_fields": ["secret"], "mask_callable": "store.audit.secret_hide"},
    "orders.refund",
    # Who wrote which internal note (the entry keeps the request id itself).
    {"model": "orders.staffnote", "exclude_fields": ["request_id"]},
    {
        # A password change is recorded as one, its values hidden.
        "model": "accounts.user",
        "exclude_fields": ["last_login"],
        "mask_fields": ["password"],
        "mask_callable": "store.audit.secret_hide",
        "m2m_fields": {"groups", "user_permissions"},
    },
    {"model": "auth.group", "m2m_fields": {"permissions"}},
    # What a schedule runs and when; not the run state the scheduler itself updates.
    {"model": "django_q.schedule", "exclude_fields": ["next_run", "task", "repeats"]},
)
AUDITLOG_CID_GETTER = "store.request_context.request_id_current"
# Fixtures loaded with loaddata are not anyone's action.
AUDITLOG_DISABLE_ON_RAW_SAVE = True

# --- I18N, static ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The shop's one currency is the US dollar; every amount people read starts with this (store.money).
CURRENCY_SYMBOL = "$"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)

# Uploaded files (product images staff upload in the admin), stored by the "default" storage.
# The app serves MEDIA_URL itself (store.media) unless SERVE_MEDIA is off, for a reverse proxy
# or a CDN that serves MEDIA_ROOT instead (docs/operations.md, "Uploaded images").
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", "") or DATA_DIR / "media")
MEDIA_URL = os.environ.get("MEDIA_URL", "") or "/media/"
# Only a path on this site is ours to serve (Django reads a relative one, "media/", as "/media/");
# a full URL ("https://…", "//…") is a CDN's or a bucket's.
_MEDIA_ELSEWHERE = urlsplit(MEDIA_URL).netloc
SERVE_MEDIA = env_bool("SERVE_MEDIA", True) and not _MEDIA_ELSEWHERE
# An uploaded product image: at most this many bytes, and pixels on its longer side.
PRODUCT_IMAGE_MAX_BYTES = env_int("PRODUCT_IMAGE_MAX_BYTES", 2 * 1024 * 1024, minimum=1)
PRODUCT_IMAGE_MAX_SIDE = env_int("PRODUCT_IMAGE_MAX_SIDE", 4000, minimum=1)
# Pages show an upload through renditions at their own sizes (catalog.pictures.PICTURE_SIZES),
# which sorl-thumbnail writes under MEDIA_ROOT/renditions/ and remembers in the database, with a
# copy in the cache while it answers (catalog.renditions): cropped to the page's frame, never
# enlarged, in the upload's own format.
THUMBNAIL_KVSTORE = "catalog.renditions.KVStore"
THUMBNAIL_PREFIX = "renditions/"
THUMBNAIL_PRESERVE_FORMAT = True
THUMBNAIL_UPSCALE = False
THUMBNAIL_QUALITY = 85

# --- E-mail ---------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds an SMTP connection may take; a mail server that hangs must not hold a request.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
# The folder the file-based backend (django.core.mail.backends.filebased) writes each e-mail to.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Workflow Store <orders@workflow-store.local>")

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["store.api.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["store.throttling.ApiBurstThrottle", "store.throttling.ApiThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["store.api.parsers.BoundedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "store.api.pagination.HeaderPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "store.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": False,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": False,
    # A refresh token is good for one refresh: it is blacklisted and a new one issued.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Every token carries a digest of the password hash it was issued under: a password change
    # or reset (on any surface) revokes every earlier token, access tokens included, as it
    # signs out the user's web sessions.
    "CHECK_REVOKE_TOKEN": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Workflow Store API",
    "DESCRIPTION": "Catalog, accounts and orders of the Workflow Store. JSON keys are camelCase; "
    'every error body is {"error", "code", "fields"?}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents the API's error format, after drf-spectacular's own hooks.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "store.api.schema.document_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProductStateEnum": "catalog.api.serializers.STATES",
        "OrderStateEnum": "orders.states.OrderState",
    },
}

# Rate limits (store.throttling explains the windows): "<count>/<period>" or "off". Counted in
# the default cache, which every process shares (Redis, or the file cache in DATA_DIR).
RATE_LIMITS = {
    "API": os.environ.get("RATE_LIMIT_API", "300/min"),
    "API_BURST": os.environ.get("RATE_LIMIT_API_BURST", "50/10s"),
    "LOGIN": os.environ.get("RATE_LIMIT_LOGIN", "10/min"),
    "REGISTER": os.environ.get("RATE_LIMIT_REGISTER", "10/min"),
    "LOGIN_FAILURES": os.environ.get("RATE_LIMIT_LOGIN_FAILURES", "5/15min"),
    "PASSWORD_RESET": os.environ.get("RATE_LIMIT_PASSWORD_RESET", "5/hour"),
}
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For
# (0: clients connect directly and REMOTE_ADDR is the client).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_ALLOW_ALL_ORIGINS = DEBUG and not CORS_ALLOWED_ORIGINS
CORS_EXPOSE_HEADERS = ["Link", "X-Total-Count", "X-Request-ID", "Retry-After"]

# --- Security (production values come from the environment) -----------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The probes and /metrics: orchestrators and Prometheus reach each process directly, by its
# address and over plain HTTP, so these answer whatever the Host (store.middleware.ProbeMiddleware)
# and are never redirected to HTTPS.
PROBE_PATHS = ["/livez", "/readyz", "/healthz", "/metrics"]
SECURE_REDIRECT_EXEMPT = [rf"^{path.lstrip('/')}$" for path in PROBE_PATHS]
if env_bool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy on every response (django-csp): scripts only from this origin, never
# inline or eval'd (the pages' own behaviour is static/js/menu.js and store.js; htmx evaluates nothing, see
# base.html). Styles allow inline attributes, which the admin and Swagger UI use.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        # MEDIA_URL on another origin (a CDN or object storage) is allowed too, below.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if _MEDIA_ELSEWHERE:  # its origin; a scheme-relative "//host/…" allows the host on any scheme
    _scheme = urlsplit(MEDIA_URL).scheme
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(
        f"{_scheme}://{_MEDIA_ELSEWHERE}" if _scheme else _MEDIA_ELSEWHERE)

# --- The store ------------------------------------------------------------------------
STORE_LOW_STOCK_THRESHOLD = env_int("STORE_LOW_STOCK_THRESHOLD", 10, minimum=0)
# The admin's "Needs attention" lists an order in a working state not updated for this long.
STORE_ATTENTION_STUCK_MINUTES = env_int("STORE_ATTENTION_STUCK_MINUTES", 30, minimum=1)
# ... and an order whose payment or shipment failed for this many days after it ended, until
# staff dismiss it or the customer places it again.
STORE_ATTENTION_FAILED_DAYS = env_int("STORE_ATTENTION_FAILED_DAYS", 7, minimum=1)
# A shipped order with no news of its parcel for this long is listed under "Needs attention".
STORE_ATTENTION_CARRIER_SILENT_DAYS = env_int("STORE_ATTENTION_CARRIER_SILENT_DAYS", 5, minimum=1)
if STORE_ATTENTION_FAILED_DAYS > 366:
    raise ImproperlyConfigured(f"STORE_ATTENTION_FAILED_DAYS is at most 366, not {STORE_ATTENTION_FAILED_DAYS}.")
STORE_MAX_ORDER_LINES = 50

# Shipping (orders.shipping; docs/configuration.md): standard ships free when the order's items
# come to at least FREE_SHIPPING_THRESHOLD dollars ("" turns that off; "0.00" makes it always free).
# A shipping option the customer chose holds for SHIPPING_QUOTE_MAX_AGE seconds; the carrier's
# rate quote gets SHIPPING_RATES_TIMEOUT seconds before the shop prices standard from its rate card.
FREE_SHIPPING_THRESHOLD = env_money("FREE_SHIPPING_THRESHOLD", "100.00")
SHIPPING_QUOTE_MAX_AGE = env_int("SHIPPING_QUOTE_MAX_AGE", 1800, minimum=60)
SHIPPING_RATES_TIMEOUT = env_float("SHIPPING_RATES_TIMEOUT", 2.0, minimum=0.1)
STORE_MAX_LINE_QUANTITY = 99
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# Collectors a /metrics scrape adds to the recorded metrics, by dotted path (store.metrics
# imports no app): store_orders{state}, holds past their deadline, the providers' circuits and low
# stock, read from the database at scrape time.
METRICS_SCRAPE_COLLECTORS = ["workflows.metrics.orders_by_state", "workflows.metrics.holds_overdue",
                             "providers.metrics.provider_circuits", "catalog.metrics.products_low_stock",
                             "webhooks.metrics.oldest_undelivered"]
# /healthz's checks that make it "degraded" (200) rather than "unhealthy" (503), by dotted path
# (store.health imports no app): each returns (ok, detail), as store.health_checks' do.
HEALTH_DEGRADED_CHECKS = {"providers": "providers.breakers.health_check"}
# A `qcluster` serves its task processes' metrics on this port (0: none). It needs
# PROMETHEUS_MULTIPROC_DIR, read by prometheus_client itself (store/metrics.py explains).
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0)
WORKER_METRICS_ADDRESS = os.environ.get("WORKER_METRICS_ADDRESS", "127.0.0.1")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # prometheus_client writes there as soon as a metric is created.
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

# Which implementation serves each provider role (interfaces: providers/base.py), by dotted path.
# A pipeline step's provider (the role named as the step) is the class its row in
# workflows/pipeline.py declares unless named here.
PROVIDERS = {
    "notification": "providers.simulated.NotificationGateway",
}
# Payment providers by the name an order records (Order.payment_provider): PAYMENT_PROVIDER
# charges new orders, and a refund goes back to the provider that charged the order.
PAYMENT_PROVIDERS = {"simulator": "providers.simulated.PaymentGateway"}
PAYMENT_PROVIDER = os.environ.get("PAYMENT_PROVIDER", "simulator")

# Where the store answers, as its own processes reach it (the simulated payment provider calls
# back there): `make run` starts gunicorn on HOST:WEB_PORT (honcho gives each process a PORT of
# its own, so the worker's PORT is not the web's); a wildcard HOST is reached on loopback.
_web_host = os.environ.get("HOST", "")
if _web_host in ("", "0.0.0.0", "::"):  # noqa: S104
    _web_host = "127.0.0.1"
elif ":" in _web_host:
    _web_host = f"[{_web_host.strip('[]')}]"
STORE_URL = (os.environ.get("STORE_URL", "") or "http://{}:{}".format(
    _web_host, os.environ.get("WEB_PORT", "") or os.environ.get("PORT", "") or "8080",
)).rstrip("/")
# Where customers reach the store (the links in e-mails): the address in front of every proxy.
STORE_PUBLIC_URL = (os.environ.get("STORE_PUBLIC_URL", "") or STORE_URL).rstrip("/")
# The store's own addresses are hosts it answers for: the worker's callbacks and the e-mailed
# links reach it under them.
for _url in (STORE_URL, STORE_PUBLIC_URL):
    _name = urlsplit(_url).hostname or ""
    _name = f"[{_name}]" if ":" in _name else _name
    if _name and _name not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_name)

# The payment provider's webhook (POST /api/payments/webhook; providers.webhooks): the secret
# both sides sign with, by default derived from SECRET_KEY so the demo needs no setup, and how
# far (seconds) a signature's timestamp may be from now either way.
PAYMENT_WEBHOOK_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET", "") or salted_hmac(
    "store.payment-webhook", "secret", secret=SECRET_KEY, algorithm="sha256"
).hexdigest()
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300)
# The carrier's tracking webhook (POST /api/shipping/webhook), signed the same way with a secret
# of its own (by default derived from SECRET_KEY too), and its tolerance in seconds.
CARRIER_WEBHOOK_SECRET = os.environ.get("CARRIER_WEBHOOK_SECRET", "") or salted_hmac(
    "store.carrier-webhook", "secret", secret=SECRET_KEY, algorithm="sha256"
).hexdigest()
CARRIER_WEBHOOK_TOLERANCE_SECONDS = env_int("CARRIER_WEBHOOK_TOLERANCE_SECONDS", 300)
# Reconciliation (orders.services.payment_reconcile): each lookup of a charge waits at most
# TIMEOUT seconds. How long a payment may wait for its confirmation, and when and how often the
# shop asks the provider, are the workflow version's (docs/workflow.md).
PAYMENT_RECONCILE = {
    "TIMEOUT": env_float("PAYMENT_RECONCILE_TIMEOUT", 10),
}
# Hours a payment link staff send for a failed payment stays usable (it also works only once).
PAYMENT_LINK_MAX_AGE_HOURS = env_int("PAYMENT_LINK_MAX_AGE_HOURS", 72, minimum=1)

# Simulated providers (docs/configuration.md: Simulated providers). LATENCY_SCALE 0 makes them instant (tests, benchmarks);
# SEED makes the random outcomes repeatable.
SIMULATOR = {
    "LATENCY_SCALE": env_float("SIM_LATENCY_SCALE", 1.0),
    "SEED": os.environ.get("SIM_SEED") or None,
    "INVENTORY_AVAILABLE_RATE": env_float("SIM_INVENTORY_AVAILABLE_RATE", 0.90),
    "INVENTORY_LATENCY_MS": (100, 300),
    "PAYMENT_APPROVE_RATE": env_float("SIM_PAYMENT_APPROVE_RATE", 0.85),
    "PAYMENT_DECLINE_RATE": env_float("SIM_PAYMENT_DECLINE_RATE", 0.10),
    "PAYMENT_LATENCY_MS": (50, 200),
    "SHIPPING_SUCCESS_RATE": env_float("SIM_SHIPPING_SUCCESS_RATE", 0.95),
    "SHIPPING_LATENCY_MS": (200, 500),
    "ADDRESS_LATENCY_MS": (50, 150),
    "NOTIFICATION_LATENCY_MS": (10, 50),
    "RISK_LATENCY_MS": (20, 80),
    "RATES_LATENCY_MS": (50, 200),
    # Pending charges (test cards 3220, 3238): seconds until the callback to the webhook (< 0: never),
    # where it goes, how many deliveries are tried and how long each waits for an answer.
    "PAYMENT_CONFIRM_DELAY_SECONDS": env_float("SIM_PAYMENT_CONFIRM_DELAY", 2),
    "PAYMENT_WEBHOOK_URL": os.environ.get("PAYMENT_WEBHOOK_URL", "") or f"{STORE_URL}/api/payments/webhook",
    "PAYMENT_WEBHOOK_ATTEMPTS": env_int("SIM_PAYMENT_WEBHOOK_ATTEMPTS", 5),
    "PAYMENT_WEBHOOK_TIMEOUT": env_float("SIM_PAYMENT_WEBHOOK_TIMEOUT", 5),
    # The carrier's tracking updates after a label (in transit, out for delivery, delivered), this
    # many seconds apart; whether it calls the store's webhook with each (else it only answers
    # when asked), where, how many deliveries are tried and how long each waits for an answer.
    "TRACKING_STEP_SECONDS": env_float("SIM_TRACKING_STEP_SECONDS", 5, minimum=0),
    "TRACKING_CALLBACKS": env_bool("SIM_TRACKING_CALLBACKS", True),
    "TRACKING_WEBHOOK_URL": os.environ.get("TRACKING_WEBHOOK_URL", "") or f"{STORE_URL}/api/shipping/webhook",
    "TRACKING_WEBHOOK_ATTEMPTS": env_int("SIM_TRACKING_WEBHOOK_ATTEMPTS", 5),
    "TRACKING_WEBHOOK_TIMEOUT": env_float("SIM_TRACKING_WEBHOOK_TIMEOUT", 5),
}

# After a Redis call failed, this process stops calling Redis for this long (then one probe
# call): a hung Redis costs one REDIS_TIMEOUT, not one per call (store.circuit).
REDIS_CIRCUIT_SECONDS = env_float("REDIS_CIRCUIT_SECONDS", 5)

# Run pipeline tasks in-process instead of through the queue (unit tests only).
PIPELINE_TASKS_SYNC = env_bool("PIPELINE_TASKS_SYNC", False)
# How often the worker cluster queues the tasks a broker outage left in the outbox (seconds;
# 0 turns the relay thread off, leaving it to the sweeper).
OUTBOX_RELAY_SECONDS = env_float("OUTBOX_RELAY_SECONDS", 1.0)

# The pipeline (workflows/pipeline.py holds the wiring): what is about the machine. Its policy
# (attempts, backoff, timeouts, retries, circuits, bulkheads, holds, optional steps) is the
# workflow version's, edited in the admin or the API (docs/workflow.md).
PIPELINE = {
    # Multiplies every backoff sleep; tests set it to 0.
    "BACKOFF_SCALE": env_float("PIPELINE_BACKOFF_SCALE", 1.0),
    # Multiplies every wait for the carrier's tracking news (the workflow version's `tracking`
    # timings); tests, the bench and the screenshots set it to 0 (the store asks at once).
    "TRACKING_WAIT_SCALE": env_float("TRACKING_WAIT_SCALE", 1.0, minimum=0),
    # The sweeper re-enqueues orders sitting in a working state longer than this.
    "STUCK_AFTER_SECONDS": env_int("STUCK_AFTER_SECONDS", 120),
    "SWEEP_EVERY_MINUTES": env_int("SWEEP_EVERY_MINUTES", 1),
    # Pipeline runs at once per worker process, each on a thread of its own, so a provider wait
    # holds a thread, not the process (workflows.executor; 0: one at a time, in the task itself).
    # Sizing (docs/operations.md): runs in flight ≈ orders/s × seconds an order spends waiting.
    "CONCURRENT_RUNS": env_int("PIPELINE_CONCURRENT_RUNS", 32),
    # A run that waits longer than this for a place in its provider's bulkhead (the workflow
    # version's size) is put back on the queue.
    "BULKHEAD_WAIT_SECONDS": env_float("BULKHEAD_WAIT_SECONDS", 2.0),
    # A run that fails because the database or the broker cannot be reached goes again in this
    # process after a backoff, up to this many times (store.outage): (tries, first wait, longest
    # wait) in seconds, about a minute in all, so a restart of a few seconds costs seconds, not
    # the sweeper's minutes.
    "CONNECTION_RETRY": (env_int("PIPELINE_CONNECTION_RETRIES", 10, minimum=0),
                         env_float("PIPELINE_CONNECTION_BACKOFF", 0.5, minimum=0),
                         env_float("PIPELINE_CONNECTION_BACKOFF_MAX", 10.0, minimum=0)),
}
# Each process reads which workflow version is current at most this often (seconds); a
# version's own policy is read once (it never changes). Orders take the current one as they
# are placed, read then.
WORKFLOW_READ_CACHE_SECONDS = env_float("WORKFLOW_READ_CACHE_SECONDS", 1.0, minimum=0)

# Webhooks (webhooks.services): each attempt's timeout; retries from BACKOFF_SECONDS doubling up
# to BACKOFF_MAX_SECONDS (with jitter; PIPELINE["BACKOFF_SCALE"] multiplies it) for RETRY_HOURS
# from the first attempt; an endpoint is disabled after DISABLE_AFTER failed attempts in a row.
# Receivers at private, loopback or link-local addresses are refused unless ALLOW_PRIVATE.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 5.0, minimum=0.1)
WEBHOOK_BACKOFF_SECONDS = env_float("WEBHOOK_BACKOFF_SECONDS", 10.0, minimum=0)
WEBHOOK_BACKOFF_MAX_SECONDS = env_float("WEBHOOK_BACKOFF_MAX_SECONDS", 3600.0, minimum=0)
WEBHOOK_RETRY_HOURS = env_float("WEBHOOK_RETRY_HOURS", 24.0, minimum=0)
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 20, minimum=1)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)

# Circuit breakers per provider, shared by the worker processes (providers.breakers): they open
# and cool down as the current workflow version says; then one probe call (claimed for
# PROBE_SECONDS) closes or reopens it. Each process reads a circuit at most every READ_CACHE_SECONDS.
PROVIDER_CIRCUIT = {
    "PROBE_SECONDS": env_float("CIRCUIT_PROBE_SECONDS", 60),
    "READ_CACHE_SECONDS": env_float("CIRCUIT_READ_CACHE_SECONDS", 0.5),
    # (failures that open it, cool-down seconds) of the circuits of roles no pipeline step has.
    "ROLES": {"rates": (env_int("RATES_CIRCUIT_FAILURES", 5, minimum=1),
                        env_float("RATES_CIRCUIT_COOL_DOWN", 30, minimum=0))},
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "store.logging.RequestContextFilter"},
        "probe_responses": {"()": "store.logging.ProbeResponseFilter"},
        "logged_refusals": {"()": "store.logging.LoggedRefusalFilter"},
    },
    "formatters": {"json": {"()": "store.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # While the database is down each pool logs every reconnection try (4 a second); the
        # store logs the outage itself, once per refused request or retried run.
        "psycopg.pool": {"level": "ERROR"},
        # A probe's 503 is logged once per change by store.health, not on every probe; a refusal
        # its view logged with the reason is not logged twice.
        "django.request": {"filters": ["probe_responses", "logged_refusals"]},
        # django-q2 logs as "django-q" (with a hyphen).
        "django-q": {"level": os.environ.get("Q_LOG_LEVEL", "WARNING")},
        # django-axes logs every sign-in at INFO; its warnings (failures, lockouts) stay.
        "axes": {"level": "WARNING"},
    },
}
