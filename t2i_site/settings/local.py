"""The embedded default: `make run` and `python manage.py ...` with no environment at all."""

from t2i_site.settings.base import *  # noqa: F403
from t2i_site.settings.base import env_bool, env_str

# off by default: an unknown URL shows a plain page, not Django's list of every route (`runstudio --debug` turns
# it on for developers); static files are served from the source folders, no collectstatic needed
DEBUG = env_bool("DJANGO_DEBUG", False)
WHITENOISE_USE_FINDERS = True
# a fixed key is fine for a studio on 127.0.0.1; production.py requires a real one
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "embedded-studio-not-secret-do-not-deploy")
