"""Tests: real PostgreSQL and Redis on their standard local ports, the tiny model, files in a temp folder."""

import tempfile
import uuid
from pathlib import Path

import dj_database_url

from t2i_site.settings.base import *  # noqa: F403
from t2i_site.settings.base import env_str

SECRET_KEY = "test-only-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/9")
# each run gets its own test database, queue and channel prefix, so two runs (or a stale message) never cross
_RUN = uuid.uuid4().hex[:8]
DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/t2i"), conn_max_age=0)
}
DATABASES["default"]["TEST"] = {"NAME": f"test_t2i_{_RUN}"}
T2I_GPU_QUEUE = f"gpu-test-{_RUN}"
T2I_CONTROL_QUEUE = f"control-test-{_RUN}"
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ROUTES = {
    "generation.tasks.generation_jobs_reconcile": {"queue": T2I_CONTROL_QUEUE},
    "generation.tasks.*": {"queue": T2I_GPU_QUEUE},
    "modelops.tasks.*": {"queue": T2I_GPU_QUEUE},
}
CELERY_TASK_DEFAULT_QUEUE = T2I_GPU_QUEUE
T2I_PREVIEW_EVERY_S = 0.0  # the tiny model's jobs are done in milliseconds: a preview at every step, to see them
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": T2I_BROKER_VISIBILITY_TIMEOUT_S}  # noqa: F405
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": f"t2i-test-{_RUN}"},
    }
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="t2i-test-media-")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests do not test hashing
# conftest saves a tiny random pipeline and points the model name "diffusion" at it (T2I_MODEL_PATHS)
T2I_MODEL_PATHS = {}
T2I_BOOTSTRAP_BUNDLED = False  # tests bootstrap only the tiny models that T2I_MODEL_PATHS names
# each test gets its own MLflow store (conftest's autouse fixture); fetched registry copies stay out of var/
MLFLOW_TRACKING_URI = None
T2I_REGISTRY_CACHE = tempfile.mkdtemp(prefix="t2i-test-registry-")
T2I_TENSORBOARD_DIR = Path(tempfile.mkdtemp(prefix="t2i-test-tb-"))
T2I_EVAL_PER_CATEGORY = 1
T2I_EVAL_SEEDS = 1
T2I_EVAL_STEPS = 2
LOGGING = {"version": 1, "disable_existing_loggers": False}
WHITENOISE_USE_FINDERS = True  # serve static files straight from the app folders: no collectstatic in tests
WHITENOISE_AUTOREFRESH = True
