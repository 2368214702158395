"""Production: every secret and service comes from the environment; nothing has a default that could leak."""

from t2i_site.settings.base import *  # noqa: F403
from t2i_site.settings.base import DATABASE_URL, REDIS_URL, env_bool, env_int, env_str

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = False
if not DATABASE_URL or not REDIS_URL:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("production needs DATABASE_URL and REDIS_URL")
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# HTTPS everywhere: HTTP is redirected and browsers are told to remember it (a year, subdomains included).
# Behind a TLS-terminating proxy, that proxy sets X-Forwarded-Proto. A plain-HTTP deployment on a private
# network (the local compose stack) turns these off explicitly: DJANGO_SECURE_SSL_REDIRECT=false,
# DJANGO_HSTS_SECONDS=0, DJANGO_SECURE_COOKIES=false.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
