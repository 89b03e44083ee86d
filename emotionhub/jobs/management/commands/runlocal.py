"""Run the web server and a Celery worker (with the reconciler schedule) together.

The quick start's single process tree: embedded broker and SQLite unless REDIS_URL and
DATABASE_URL say otherwise. The web server is uvicorn serving ``emotionhub.asgi`` (the REST
API, static files under DEBUG, and the ``/api/v1/stream`` WebSocket with the in-memory
channel layer), so the real-time demo works too. The worker is supervised (restarted if it
dies; see :mod:`emotionhub.jobs.embedded_worker`). Ctrl-C or SIGTERM stops both.
"""

import os
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from emotionhub.jobs.embedded_worker import SupervisedWorker, worker_command


class Command(BaseCommand):
    help = "Start a supervised worker (with beat) in the background and the web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options) -> None:
        schedule = os.path.join(os.environ.get("EMOTIONHUB_VAR_DIR", "var"), "celerybeat-schedule")
        worker = SupervisedWorker(worker_command(schedule))
        worker.start()
        # uvicorn re-raises the signal that stopped it once it has shut down; as SystemExit
        # (not the default SIGTERM action) it lets the finally below stop the worker.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            serve_asgi(addrport)
        finally:
            worker.stop()


def serve_asgi(addrport: str) -> None:
    """uvicorn on ``host:port``; WebSocket messages up to a base64-encoded largest frame."""
    import uvicorn

    host, _, port = addrport.rpartition(":")
    if not port.isdigit():
        raise CommandError(f"expected HOST:PORT, got {addrport!r}")
    uvicorn.run(
        "emotionhub.asgi:application",
        host=host or "127.0.0.1",
        port=int(port),
        ws="websockets",
        ws_max_size=settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES * 2,
        lifespan="off",
        log_level="info",
    )
