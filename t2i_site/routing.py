"""WebSocket routes."""

from django.urls import path

from generation.consumers import JobEventsConsumer
from modelops.consumers import ArenaEventsConsumer

websocket_urlpatterns = [
    path("ws/jobs/", JobEventsConsumer.as_asgi()),
    path("ws/jobs/<int:job_id>/", JobEventsConsumer.as_asgi()),
    path("ws/arena/<int:match_id>/", ArenaEventsConsumer.as_asgi()),
]
