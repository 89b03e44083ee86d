"""ASGI entry point (uvicorn): the HTTP app plus the ``/api/v1/stream`` WebSocket.

HTTP is Django's ASGI handler, serving static files itself under DEBUG (the quick start,
like runserver); WebSockets go through Channels. A browser's ``Origin`` must be one of
``ALLOWED_HOSTS``; clients that send none (scripts) are let through, since the stream
authenticates with an API key header or a token, never with cookies.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "emotionhub.settings.production")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import OriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from emotionhub.realtime.routing import websocket_urlpatterns  # noqa: E402


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin) -> bool:
        return parsed_origin is None or self.validate_origin(parsed_origin)


def _allowed_origins() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = ["localhost", "127.0.0.1", "[::1]"]
    return hosts


def build_application(*, serve_static: bool) -> ProtocolTypeRouter:
    """The ASGI app; ``serve_static`` serves STATIC_URL itself (quick start, browser tests)."""
    http = django_asgi
    if serve_static:
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        http = ASGIStaticFilesHandler(django_asgi)
    return ProtocolTypeRouter(
        {
            "http": http,
            "websocket": BrowserOriginValidator(
                URLRouter(websocket_urlpatterns), _allowed_origins()
            ),
        }
    )


application = build_application(serve_static=settings.DEBUG)

if settings.EMOTIONHUB_REALTIME_PRELOAD:
    from emotionhub.realtime.engine import preload

    preload()
