"""The embedded default: `make run` and `python manage.py ...` with no environment at all."""

from t2i_site.settings.base import *  # noqa: F403
from t2i_site.settings.base import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
# a fixed key is fine for a studio on 127.0.0.1; production.py requires a real one
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "embedded-studio-not-secret-do-not-deploy")
