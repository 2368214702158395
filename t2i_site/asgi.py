"""ASGI entry point for daphne: HTTP through Django's WSGI handler on a thread pool (t2i_site.http_pool),
WebSockets (/ws/jobs/...) through Channels."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "t2i_site.settings.local")
django_wsgi_app = get_wsgi_application()  # before importing consumers: it sets up the app registry

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.ws_auth import WebSocketAuthStack  # noqa: E402
from t2i_site.http_pool import PooledWsgiToAsgi  # noqa: E402
from t2i_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": PooledWsgiToAsgi(django_wsgi_app, threads=settings.T2I_WEB_THREADS),
        "websocket": WebSocketAuthStack(URLRouter(websocket_urlpatterns)),
    }
)
