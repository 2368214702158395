"""Settings shared by every environment. Values come from the environment, parsed strictly (t2i_site.env).

Service switches: DATABASE_URL (else SQLite), REDIS_URL (else a filesystem Celery broker and a
SQLite channel layer), T2I_S3_BUCKET (else files on disk under T2I_VAR_DIR/media).
"""

from pathlib import Path

import dj_database_url

from t2i_site.env import env_bool, env_choice, env_float, env_int, env_list, env_mapping, env_path, env_str

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = env_path("T2I_VAR_DIR", BASE_DIR / "var")  # embedded database, broker folders, media

SECRET_KEY = env_str("DJANGO_SECRET_KEY", None)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.humanize",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    "accounts",
    "prompts",
    "generation",
    "feedback",
    "modelops",
    "compat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "t2i_site.urls"
ASGI_APPLICATION = "t2i_site.asgi.application"
WSGI_APPLICATION = "t2i_site.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "generation:create"
LOGOUT_REDIRECT_URL = "generation:public_gallery"

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

DATABASE_URL = env_str("DATABASE_URL", None)
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "studio.sqlite3",
            # the web process and the worker both write: WAL lets readers run beside the writer
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.passwords.RevokeApiKeysOnPasswordChange"},  # Django's hook after every password change
]
# Argon2id first (memory-hard); older hashes still verify and are upgraded at the next sign-in
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
T2I_TOKEN_TTL_DAYS = env_int("T2I_TOKEN_TTL_DAYS", 30, minimum=1)  # keys made by POST /api/auth/token/

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env_path("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env_path("DJANGO_MEDIA_ROOT", VAR_DIR / "media")

S3_BUCKET = env_str("T2I_S3_BUCKET", None)
if S3_BUCKET:
    # credentials come from boto3's usual sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a role, ...)
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": env_str("T2I_S3_ENDPOINT_URL", None),
            "region_name": env_str("T2I_S3_REGION", None),
            "querystring_auth": True,  # private images: signed, expiring URLs
        },
    }
else:
    # overwrite: an image's key is fixed by its job and index, so a retried save replaces its file (S3 does too)
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Jobs that survive failures (README): a running job holds a lease that its step callback renews; the
# reconciler (Celery beat in the server mode, a thread of runstudio in the embedded mode) requeues jobs whose
# message or worker is gone. A lease must outlast the longest model load and the longest gap between two steps.
T2I_JOB_TIME_LIMIT_S = env_int("T2I_JOB_TIME_LIMIT_S", 600, minimum=1)  # one attempt; checked at every step
T2I_JOB_LEASE_S = env_float("T2I_JOB_LEASE_S", 60.0, minimum=1.0)
# a running job's row is written (progress, lease, cancel check) at most this often; its events go out every step
T2I_PROGRESS_WRITE_S = env_float("T2I_PROGRESS_WRITE_S", 0.25, minimum=0.0)
T2I_PREVIEW_EVERY_S = env_float("T2I_PREVIEW_EVERY_S", 0.25, minimum=0.0)  # live previews decoded at most this often
# queued jobs with the same model and sampling settings share a pipeline call, up to this many images (1: never)
T2I_BATCH_MAX_IMAGES = env_int("T2I_BATCH_MAX_IMAGES", 8, minimum=1)
# each new Shapes image gets its realism and alignment scores from the worker (ml_engine.evaluation.image_scores)
T2I_IMAGE_SCORES = env_bool("T2I_IMAGE_SCORES", True)
# how long a synchronous request (OpenAI's images/generations, A1111's txt2img) waits for its job
T2I_SYNC_WAIT_S = env_float("T2I_SYNC_WAIT_S", 600.0, minimum=1.0)
T2I_WORKERS = env_int("T2I_WORKERS", 1, minimum=1)  # generation worker processes `runstudio` starts
T2I_JOB_MAX_ATTEMPTS = env_int("T2I_JOB_MAX_ATTEMPTS", 3, minimum=1)
T2I_RECONCILE_INTERVAL_S = env_float("T2I_RECONCILE_INTERVAL_S", 15.0, minimum=0.1)
T2I_RECONCILE_QUEUED_AFTER_S = env_float("T2I_RECONCILE_QUEUED_AFTER_S", 30.0, minimum=0.0)
T2I_TRANSIENT_RETRY_S = env_float("T2I_TRANSIENT_RETRY_S", 120.0, minimum=0.0)  # database or storage outage
# Redis hands an unacked message to another worker only after this long: longer than any job may run, so a
# running job's message is never delivered twice while it runs (a dead worker's job comes back by its lease)
T2I_BROKER_VISIBILITY_TIMEOUT_S = env_int("T2I_BROKER_VISIBILITY_TIMEOUT_S", T2I_JOB_TIME_LIMIT_S + 600, minimum=1)
if T2I_BROKER_VISIBILITY_TIMEOUT_S <= T2I_JOB_TIME_LIMIT_S + T2I_JOB_LEASE_S:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"T2I_BROKER_VISIBILITY_TIMEOUT_S={T2I_BROKER_VISIBILITY_TIMEOUT_S} must exceed "
        f"T2I_JOB_TIME_LIMIT_S + T2I_JOB_LEASE_S ({T2I_JOB_TIME_LIMIT_S + T2I_JOB_LEASE_S:g})"
    )

REDIS_URL = env_str("REDIS_URL", None)
T2I_GPU_QUEUE = env_str("T2I_GPU_QUEUE", "gpu")
# the reconciler's own queue: a small CPU worker (compose's `scheduler`) serves it, never blocked behind jobs
T2I_CONTROL_QUEUE = env_str("T2I_CONTROL_QUEUE", "studio-control")
CELERY_TASK_ROUTES = {
    "generation.tasks.generation_jobs_reconcile": {"queue": T2I_CONTROL_QUEUE},
    "generation.tasks.*": {"queue": T2I_GPU_QUEUE},
    "modelops.tasks.*": {"queue": T2I_GPU_QUEUE},
}
CELERY_TASK_DEFAULT_QUEUE = T2I_GPU_QUEUE
CELERY_TASK_IGNORE_RESULT = True  # the database holds every job's state, not the result backend
CELERY_TASK_ACKS_LATE = True  # a message goes only once its job has ended (or was found not to want running)
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # prefork: a killed child's message goes back at once
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # one generation at a time per worker; the queue stays fair
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a broker outage must not stop a running job: it ends, writes its result to the database, and the message's
# late ack is lost at worst (the redelivered message then finds the job finished and is dropped)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE = {
    "reconcile-jobs": {
        "task": "generation.tasks.generation_jobs_reconcile",
        "schedule": T2I_RECONCILE_INTERVAL_S,
        "options": {"expires": T2I_RECONCILE_INTERVAL_S},  # a late run is superseded by the next one
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if REDIS_URL:
    # throttle counters must be shared by every web process
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": T2I_BROKER_VISIBILITY_TIMEOUT_S}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("T2I_CHANNELS_PREFIX", "t2i")},
        }
    }
else:
    _broker = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),  # kombu's default is ./control in the working directory
        "store_processed": False,
        # an idle worker lists the folder this often: a new job waits 2.5 ms on average
        "polling_interval": 0.005,
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "t2i_site.channel_layers.SQLiteChannelLayer",
            "CONFIG": {"path": str(VAR_DIR / "channels.sqlite3")},
        }
    }

# Models: a version's `source` is a bundled name (ml_engine/weights/<name>) or a folder; this maps
# names to other folders, e.g. T2I_MODEL_PATHS="diffusion=/models/diffusion-2026-11".
T2I_MODEL_PATHS = env_mapping("T2I_MODEL_PATHS", {})
T2I_DEFAULT_MODEL = env_str("T2I_DEFAULT_MODEL", "diffusion")
# bootstrap offers every model bundled under ml_engine/weights (diffusion, gan) and registers the others in MLflow
T2I_BOOTSTRAP_BUNDLED = env_bool("T2I_BOOTSTRAP_BUNDLED", True)
T2I_DEVICE = env_str("T2I_DEVICE", "cpu")
# auto: a model's bfloat16 path runs where it was timed faster on this machine (ml_engine.precision); or fixed
T2I_PRECISION = env_choice("T2I_PRECISION", ("auto", "float32", "bfloat16"), "auto")
# per-user quotas (generation.quotas); staff raise one user's in the admin
T2I_QUOTA_ACTIVE_JOBS = env_int("T2I_QUOTA_ACTIVE_JOBS", 10, minimum=1)
T2I_QUOTA_IMAGES_PER_DAY = env_int("T2I_QUOTA_IMAGES_PER_DAY", 1000, minimum=1)
T2I_QUOTA_STORED_BYTES = env_int("T2I_QUOTA_STORED_BYTES", 1_000_000_000, minimum=1)
# MLOps: the MLflow store (unset: ml_engine's local SQLite store under data/mlflow), the registered model,
# where workers keep hash-checked copies of registry versions, the promotion gate and the evaluation job.
MLFLOW_TRACKING_URI = env_str("MLFLOW_TRACKING_URI", None)
T2I_MLFLOW_UI_URL = env_str("T2I_MLFLOW_UI_URL", None)  # e.g. http://mlflow.example.com: links to runs
T2I_REGISTERED_MODEL = env_str("T2I_REGISTERED_MODEL", "shapes-diffusion")
T2I_REGISTRY_CACHE = env_path("T2I_REGISTRY_CACHE", VAR_DIR / "registry-cache")
T2I_TENSORBOARD_DIR = env_path("T2I_TENSORBOARD_DIR", VAR_DIR / "tensorboard")  # evaluation jobs' event files
T2I_PROMOTION_MARGIN = env_float("T2I_PROMOTION_MARGIN", 0.02, minimum=0.0)  # largest allowed drop per category
T2I_EVAL_PER_CATEGORY = env_int("T2I_EVAL_PER_CATEGORY", 8, minimum=1)
T2I_EVAL_SEEDS = env_int("T2I_EVAL_SEEDS", 2, minimum=1)
T2I_EVAL_STEPS = env_int("T2I_EVAL_STEPS", 20, minimum=1)
T2I_DEMO_USER = env_str("T2I_DEMO_USER", "demo")
T2I_DEMO_PASSWORD = env_str("T2I_DEMO_PASSWORD", "studio-demo")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # rates: N/s, N/m, N/h or N/d; the sign-in ones guard password hashes, the others the API as a whole
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("T2I_API_RATE_ANON", "120/m"),
        "user": env_str("T2I_API_RATE_USER", "600/m"),
        "signin-ip": env_str("T2I_SIGNIN_RATE_IP", "30/h"),
        "signin-username": env_str("T2I_SIGNIN_RATE_USERNAME", "10/h"),
        "signup-ip": env_str("T2I_SIGNUP_RATE_IP", "10/h"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "t2i_site.api_schema.StudioAutoSchema",
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],  # one request format, the one documented
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "t2i_site.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "t2i_site.api.StrictPageNumberPagination",
    "PAGE_SIZE": 24,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Text-to-image studio API",
    "DESCRIPTION": "Submit prompts, follow generation jobs, manage images and feedback.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # assets served from this server: the docs work offline
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "COMPONENT_SPLIT_PATCH": False,  # a PATCH names what it changes: its fields stay required as the API checks
    "POSTPROCESSING_HOOKS": [],  # enums stay inline: the request's model and size choices are read at request time
}

# Content-Security-Policy (django-csp): scripts and styles from this origin only, never inline; images may be data:
# URLs (live previews, attention maps) or blobs; WebSockets to this host. Swagger UI's init script is a file too.
_CSP_SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_CSP_SELF],
        "script-src": [_CSP_SELF],
        "style-src": [_CSP_SELF],
        "img-src": [_CSP_SELF, "data:", "blob:"],  # image files are served through /api/images/<id>/file/
        "connect-src": [_CSP_SELF, "ws:", "wss:"],
        "font-src": [_CSP_SELF],
        "object-src": ["'none'"],
        "base-uri": [_CSP_SELF],
        "form-action": [_CSP_SELF],
        "frame-ancestors": ["'none'"],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
