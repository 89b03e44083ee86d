"""WebSocket routes, mounted by ``emotionhub.asgi``."""

from django.urls import path

from emotionhub.realtime.consumers import StreamConsumer

websocket_urlpatterns = [
    path("api/v1/stream", StreamConsumer.as_asgi()),
]
