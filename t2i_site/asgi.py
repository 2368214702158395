"""ASGI entry point for daphne: HTTP through Django, WebSockets (/ws/jobs/...) through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "t2i_site.settings.local")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets up the app registry

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import WebSocketAuthStack  # noqa: E402
from t2i_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": WebSocketAuthStack(URLRouter(websocket_urlpatterns)),
    }
)
