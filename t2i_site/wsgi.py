"""WSGI entry point (HTTP only; the studio normally runs under daphne via asgi.py for WebSockets)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "t2i_site.settings.local")
application = get_wsgi_application()
