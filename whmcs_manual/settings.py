"""Settings for whmcs_manual: one module, every difference between machines is an env variable.

See ``.env.example`` for the full list.
"""

import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ

from audit.logs import logging_config
from core.storage import private_storages

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The test suite runs with production settings (DEBUG off) but needs no real secret.
TESTING = "pytest" in sys.modules

# Outside debug and tests there is no default: a deployment without its own key must not start.
if DEBUG or TESTING:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-key-for-development-and-tests-only")
else:
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", "testserver"] if DEBUG or TESTING else [],
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "django.forms",
    "pgtrigger",
    "pghistory",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "django_htmx",
    "django_countries",
    "phonenumber_field",
    # The task queue (tables of its own, a worker: ``manage.py procrastinate worker``). Before our
    # apps: it imports each app's ``tasks`` module when it is ready.
    "procrastinate.contrib.django",
    # The queue's task decorator, job admin and ``run_dev`` (no models: no post_migrate of its
    # own, see core.db.is_last_app_migrated).
    "jobs",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    # Our apps. ``audit`` comes first: it arranges for every model of the business apps below to
    # be tracked as their models are imported.
    "audit",
    "core",
    # Four eyes: entries over a threshold wait for a second person (below the business apps,
    # which register what can wait).
    "approvals",
    "clients",
    "hosting",
    "billing",
    "orders",
    "support",
    "affiliates",
    "kb",
    # Sign-in (second factor, lockout, session limits); after django_otp, whose admin it hides.
    "accounts",
    # The review queue over the trail (rules, flagged entries, decisions); reads the trail, so
    # after every tracked app.
    "review",
    "demo",  # demo data and ``manage.py seed_demo`` (no models)
]

MIDDLEWARE = [
    # Request counts and latency for Prometheus (core/metrics.py), around everything else.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # /healthz and /readyz, answered before the HTTPS redirect, sessions and the audit context.
    "core.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (settings below).
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): the session passed the second factor (django-otp).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "audit.middleware.AuditMiddleware",
    # Nothing but enrolment or the code until a required second factor is passed; idle timeout
    # and absolute lifetime (after CsrfViewMiddleware: a kept POST passed its CSRF check).
    "accounts.middleware.SecondFactorMiddleware",
    "accounts.middleware.SessionLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Failed sign-ins counted and locked out (django-axes); last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# django-axes first: it refuses a locked-out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Widgets render through the project's templates (our own widgets live in templates/).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

ROOT_URLCONF = "whmcs_manual.urls"
WSGI_APPLICATION = "whmcs_manual.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["core.templatetags.bidi", "core.templatetags.badges"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

# Two database roles. DATABASE_URL is the app's: it serves requests and runs commands, and is
# neither superuser nor owner of any table (it may only read and append to the audit trail).
# DATABASE_OWNER_URL is the schema owner's, used by `manage.py migrate` only (manage.py sets
# WHMCS_DB_AS_OWNER for it) and by the test suite, which creates its own database. One URL alone
# still works for a quick start; `check --deploy` then reports that the app can rewrite history.
if env.str("DATABASE_URL", default=""):
    _APP_DATABASE = env.db("DATABASE_URL")
    _OWNER_DATABASE = (
        env.db("DATABASE_OWNER_URL")
        if env.str("DATABASE_OWNER_URL", default="")
        else dict(_APP_DATABASE)
    )
    _HARNESS_DATABASE = _OWNER_DATABASE
else:
    from whmcs_manual.embedded_db import embedded_databases

    _embedded = embedded_databases(BASE_DIR / ".data")
    _APP_DATABASE, _OWNER_DATABASE = _embedded["app"], _embedded["owner"]
    # The test harness empties tables between browser tests past the append-only triggers
    # (session_replication_role), which only a superuser may do.
    _HARNESS_DATABASE = _embedded["superuser"]
DB_AS_OWNER = env.bool("WHMCS_DB_AS_OWNER", default=False)
DATABASES = {
    "default": dict(
        _HARNESS_DATABASE if TESTING else _OWNER_DATABASE if DB_AS_OWNER else _APP_DATABASE
    )
}
# The role the app serves as: migrate grants it its rights (audit.db), tests connect as it.
AUDIT_APP_ROLE = env.str("AUDIT_APP_ROLE", default=str(_APP_DATABASE.get("USER") or ""))
# Where the app role connects (the bypass tests log in as it, on the test database).
AUDIT_APP_DATABASE = {**_APP_DATABASE, "USER": AUDIT_APP_ROLE}
# Where the owner connects: `manage.py prepare_database` creates the database from here.
OWNER_DATABASE = _OWNER_DATABASE
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Sessions live in the database, shared by every app server (no per-process state; a server
# behind the balancer can be added or removed without logging anyone out).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Persistent connections in production: opening one is half the cost of a light page. Checked
# before reuse (a connection the server dropped is replaced, not failed on). Safe with the audit
# context: it lives in transaction-local settings only (audit.context). Off under runserver
# (a thread per request would each keep one) and in the tests. CONN_MAX_AGE=0 turns it off.
DATABASES["default"].setdefault(
    "CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0 if DEBUG or TESTING else 60)
)
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))

# A cache per process by default (the dashboard's figures, below); CACHE_URL may name a shared
# one (e.g. dbcache://whmcs_cache after `manage.py createcachetable`). Nothing correct depends
# on it being shared.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

# Reads that may go to a replica (core/routers.py): with DATABASE_REPLICA_URL set, the list and
# report pages named in REPLICA_READ_VIEWS read from it until they write; every write, its audit
# context and every other read stay on the primary, and a browser that wrote reads the primary
# for DATABASE_REPLICA_PIN_SECONDS. The tests get the alias as a mirror of the test database
# (the router is tested on it; the middleware is off there unless a test turns it on).
REPLICA_READ_VIEWS = env.list(
    "REPLICA_READ_VIEWS", default=["clients:client-list", "billing:invoice-list", "audit:feed"]
)
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=10)
REPLICA_READS = bool(env.str("DATABASE_REPLICA_URL", default="")) and not TESTING
if REPLICA_READS:
    DATABASES["replica"] = {
        **env.db("DATABASE_REPLICA_URL"),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": DATABASES["default"]["CONN_HEALTH_CHECKS"],
    }
    # A read-only session: a write sent there by mistake fails instead of forking the data
    # (a pooler that refuses startup options, like PgBouncer, needs
    # DATABASE_REPLICA_READ_ONLY_OPTION=false; a streaming replica refuses writes anyway).
    if env.bool("DATABASE_REPLICA_READ_ONLY_OPTION", default=True):
        DATABASES["replica"].setdefault("OPTIONS", {})["options"] = (
            "-c default_transaction_read_only=on"
        )
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "core.routers.ReplicaReadsMiddleware",
    )
elif TESTING:
    DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}
DATABASE_ROUTERS = ["core.routers.ReplicaRouter"] if "replica" in DATABASES else []

# The dashboard's counts and totals are recomputed at most this often
# (core.extension_points.cached_figures); the tests see every change at once.
DASHBOARD_FIGURES_SECONDS = env.int("DASHBOARD_FIGURES_SECONDS", default=0 if TESTING else 30)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The suite creates hundreds of staff users: a deliberately slow hash would dominate its time.
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
# Every date shown goes through SHORT_DATE_FORMAT / SHORT_DATETIME_FORMAT, set there.
FORMAT_MODULE_PATH = ["whmcs_manual.formats"]
# Languages a client may receive emails in.
CLIENT_LANGUAGES = [
    ("en", "English"),
    ("de", "German"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("it", "Italian"),
    ("nl", "Dutch"),
    ("pt", "Portuguese"),
    ("ja", "Japanese"),
]
# Currencies the business invoices in (ISO 4217 codes).
_CURRENCY_NAMES = {
    "GBP": "Pound sterling",
    "EUR": "Euro",
    "USD": "US dollar",
    "CAD": "Canadian dollar",
    "AUD": "Australian dollar",
    "JPY": "Japanese yen",
    "INR": "Indian rupee",
    "CHF": "Swiss franc",
}
CURRENCIES = [
    (code, f"{code} — {_CURRENCY_NAMES.get(code, code)}")
    for code in env.list("CURRENCIES", default=["GBP", "EUR", "USD"])
]
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default=CURRENCIES[0][0])
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
# Private files (ticket attachments): the folder PRIVATE_MEDIA_ROOT on this machine, or, with
# STORAGE_S3_BUCKET set, an S3-compatible bucket every app server shares (core/storage.py).
# "default" is the same storage, so no file ever lands in a folder of its own.
STORAGES = {
    **private_storages(env.ENVIRON),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Development and tests serve straight from the source folders; production from collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="GB")

# e.g. smtp+tls://user:password@smtp.example.com:587 ; the console on a developer's machine.
vars().update(
    env.email_url(
        "EMAIL_URL", default="consolemail://" if DEBUG or TESTING else "smtp://localhost:25"
    )
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@example.com")
# What happens to an email once the transaction that queued it commits: "send" tries it at once
# in the same process (the web request renders its PDF and talks to the mail server); "queue"
# hands it to the task queue's workers instead (jobs/queue.py). Either way anything left is
# sent by the outbox's periodic task (every minute).
OUTBOX_AFTER_COMMIT = env.str("OUTBOX_AFTER_COMMIT", default="send")
if OUTBOX_AFTER_COMMIT not in {"send", "queue"}:
    raise environ.ImproperlyConfigured('OUTBOX_AFTER_COMMIT is "send" or "queue"')
# Public address of this site, for links in emails to clients (set-password links).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# Billing. Invoice numbers come from the series rows (Django admin); these are the defaults.
# Tax rounding: "invoice" rounds each tax once on the invoice's taxed total, "line" per line.
INVOICE_TAX_ROUNDING = env.str("INVOICE_TAX_ROUNDING", default="invoice")
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=14)
# Payment gateways staff can record money against, as code:Label pairs.
BILLING_GATEWAYS = [
    tuple(item.split(":", 1))
    for item in env.list(
        "BILLING_GATEWAYS",
        default=[
            "bank_transfer:Bank transfer",
            "card:Card (terminal)",
            "paypal:PayPal",
            "stripe:Stripe",
            "cash:Cash",
            "cheque:Cheque",
        ],
    )
]
# Printed on invoices (PDF and email).
COMPANY_NAME = env.str("COMPANY_NAME", default="Example Hosting Ltd")
COMPANY_ADDRESS = env.str(
    "COMPANY_ADDRESS", default="1 High Street\nLondon EC1A 1AA\nUnited Kingdom"
)
COMPANY_TAX_ID = env.str("COMPANY_TAX_ID", default="")

# Orders. Name servers a new domain gets when the order leaves them blank.
DEFAULT_NAMESERVERS = env.list(
    "DEFAULT_NAMESERVERS", default=["ns1.example-hosting.com", "ns2.example-hosting.com"]
)
# A downgrade's negative proration difference goes to the client's credit (True) or is
# forgiven (False: the client keeps the days already paid at the old price).
PRORATION_CREDIT_DOWNGRADES = env.bool("PRORATION_CREDIT_DOWNGRADES", default=True)

# Support. Ticket attachments are stored here when no bucket is configured (STORAGES above),
# outside the web root (no URL serves the folder; a permission-checked view streams each file).
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / ".data" / "private")
TICKET_ATTACHMENT_MAX_BYTES = env.int("TICKET_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
TICKET_ATTACHMENT_MAX_FILES = env.int("TICKET_ATTACHMENT_MAX_FILES", default=5)
# Extensions accepted; the content must match (a ".png" that is not a PNG is refused).
TICKET_ATTACHMENT_TYPES = env.list(
    "TICKET_ATTACHMENT_TYPES",
    default=["png", "jpg", "jpeg", "gif", "webp", "pdf", "txt", "log", "csv", "zip"],
)

# Affiliates: the default commission (percent of an invoice's subtotal before taxes), the
# days a commission stays pending before the daily job clears it, and the default payout
# threshold (in the affiliate's currency).
AFFILIATE_DEFAULT_COMMISSION_PERCENT = Decimal(
    env.str("AFFILIATE_DEFAULT_COMMISSION_PERCENT", default="10")
)
AFFILIATE_CLEARING_DAYS = env.int("AFFILIATE_CLEARING_DAYS", default=30)
AFFILIATE_DEFAULT_PAYOUT_THRESHOLD = Decimal(
    env.str("AFFILIATE_DEFAULT_PAYOUT_THRESHOLD", default="25.00")
)

# Security: strict by default, relaxed only on a developer's machine (DEBUG) and in the tests,
# which talk plain HTTP to a local server.
HTTPS_ONLY = not (DEBUG or TESTING)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS_ONLY)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=HTTPS_ONLY)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=HTTPS_ONLY)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS_ONLY else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS_ONLY
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS_ONLY)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 10)
# Sign-in limits (accounts.middleware): signed out after this long without a request, and
# this long after signing in whatever happens (a POST that arrives idle is kept and replayed).
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_MINUTES", default=30) * 60
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=SESSION_COOKIE_AGE)
SECURE_REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = env.str(
    "PERMISSIONS_POLICY",
    default="camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
)
# Content-Security-Policy (django-csp): everything from this site, no inline script or style
# (templates use classes; htmx's own indicator style is turned off in base.html), QR codes
# and images from here or data: URIs, no frames, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Second factor (django-otp, TOTP and single-use recovery codes). Required for the Admin and
# Billing roles and for anyone who may read the audit trail (accounts.policy); for everyone
# with OTP_REQUIRED_FOR_ALL. The issuer is the name authenticator apps show.
OTP_REQUIRED_FOR_ALL = env.bool("OTP_REQUIRED_FOR_ALL", default=False)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="WHMCS Manual")

# Lockout (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one username, or from one
# client address, further attempts are refused for the cool-off (the login page says so). The
# address is the audit trail's own (trusted proxies only). A success clears the count; an Admin
# can unlock with a reason (accounts: Sign-in security).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "audit.middleware.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful logins are in the staff sessions already
AXES_ENABLE_ADMIN = False  # unlocks go through accounts.services.unlock, with a reason
AXES_VERBOSE = False
X_FRAME_OPTIONS = "DENY"

# Keys for secrets stored encrypted at rest (hosting passwords, EPP codes): comma-separated
# Fernet keys, newest first; older keys still decrypt, so keys can be rotated. Required outside
# debug and tests.
if DEBUG or TESTING:
    import base64
    import hashlib

    _dev_key = base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[_dev_key])
else:
    FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

# Four eyes (approvals/thresholds.py; README "Roles and rights"): per right, what makes an entry
# wait for a second person with that right. JSON in the environment replaces the whole map;
# ``{}`` switches four eyes off. Amounts per currency ("*": any other currency).
APPROVAL_THRESHOLDS = env.json(
    "APPROVAL_THRESHOLDS",
    default={
        "billing.refund_payment": {"above": {"*": "100"}},
        "billing.add_credit": {"above": {"*": "50"}},
        "billing.mark_paid_without_payment": {"always": True},
        "hosting.override_price": {"below_catalog": "0.5"},
        "billing.backdate_transaction": {"days": 7},
        "clients.delete_client": {"always": True},
        "affiliates.pay_out_affiliate": {"above": {"*": "200"}},
    },
)
# A request not decided within this many hours expires (the queue sweeps every 15 minutes).
APPROVAL_EXPIRY_HOURS = env.int("APPROVAL_EXPIRY_HOURS", default=72)
# With only one Admin there is nobody else to ask: this lets them approve their own requests,
# each such approval flagged on the request and in the trail. Off by default.
APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE = env.bool(
    "APPROVAL_SOLE_ADMIN_MAY_SELF_APPROVE", default=False
)

# Reason codes (audit/reasons.py): the lists whose code may be left out (by the list's action,
# e.g. "hosting.reveal_secret"); every other list's code is required. The lists themselves are
# in the Django admin (Reason codes).
REASON_CODES_OPTIONAL = env.list("REASON_CODES_OPTIONAL", default=[])

# pghistory: every tracked table is append-only, and its events hold a foreign key to the
# per-request context row (who, from where, why).
PGHISTORY_APPEND_ONLY = True

# Proxies whose X-Forwarded-For we believe (IPs or CIDR ranges); nobody else's.
AUDIT_TRUSTED_PROXIES = env.list("AUDIT_TRUSTED_PROXIES", default=[])

# Audit seals (tamper evidence, see audit/seal.py). `manage.py audit_seal` chains an HMAC over
# every sealed row with this key, which never reaches the database; sealing and verifying refuse
# to run without one outside debug and tests. Each seal is also appended as one JSON line to the
# export file, to be shipped off the machine. Rows are sealed once older than the horizon, which
# must exceed the longest transaction (and the longest command run: see audit/seal.py).
if DEBUG or TESTING:
    import hashlib

    _seal_dev_key = hashlib.sha256(b"audit-seal:" + SECRET_KEY.encode()).hexdigest()
    # An empty AUDIT_SEAL_KEY= copied from .env.example also means "derive one".
    AUDIT_SEAL_KEY = env.str("AUDIT_SEAL_KEY", default="") or _seal_dev_key
else:
    AUDIT_SEAL_KEY = env.str("AUDIT_SEAL_KEY", default="")
AUDIT_SEAL_EXPORT = env.str(
    "AUDIT_SEAL_EXPORT", default=str(BASE_DIR / ".data" / "audit-seals.jsonl") if DEBUG else ""
)
AUDIT_SEAL_HORIZON_SECONDS = env.int("AUDIT_SEAL_HORIZON_SECONDS", default=600)
# Sealed events older than this many days move, a month at a time, from the live event tables
# into the monthly archive (manage.py audit_archive; the queue runs it daily). See audit/archive.py.
AUDIT_ARCHIVE_AFTER_DAYS = env.int("AUDIT_ARCHIVE_AFTER_DAYS", default=90)

# Who may read /metrics besides logged-in staff: the monitoring server's addresses (IPs or
# CIDR ranges), as seen through AUDIT_TRUSTED_PROXIES.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1"])

# Logs: plain text by default; LOG_FORMAT=json writes JSON lines carrying the request id the
# audit trail records, the user id and the path (audit/logs.py).
LOGGING = logging_config(
    log_format=env.str("LOG_FORMAT", default="plain"), level=env.str("LOG_LEVEL", default="INFO")
)
# The queue announces every task it registers, in every process: its warnings and errors only
# (a job that failed, a worker that lost its connection). Jobs' own outcomes log under "jobs".
LOGGING["loggers"]["procrastinate"] = {
    "level": env.str("PROCRASTINATE_LOG_LEVEL", default="WARNING")
}
