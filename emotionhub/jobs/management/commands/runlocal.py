"""Run the web server and a Celery worker (with the reconciler schedule) together.

The quick start's single process tree: embedded broker and SQLite unless REDIS_URL and
DATABASE_URL say otherwise. The web server is uvicorn serving ``emotionhub.asgi`` (the REST
API, static files under DEBUG, and the ``/api/v1/stream`` WebSocket with the in-memory
channel layer), so the real-time demo works too. The worker is supervised (restarted if it
dies; see :mod:`emotionhub.jobs.embedded_worker`). Ctrl-C (SIGINT) or SIGTERM stops both:
the worker's whole process group (beat included) is stopped.
"""

from __future__ import annotations

import os
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from emotionhub.jobs.embedded_worker import SupervisedWorker, worker_command


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def parse_addrport(addrport: str | None, host: str, port: int) -> tuple[str, int]:
    if addrport:
        head, sep, tail = addrport.rpartition(":")
        host, port_text = (head or host, tail) if sep else (host, tail)
        if not port_text.isdigit():
            raise CommandError(f"{addrport!r} is not a port or host:port")
        port = int(port_text)
    if not 0 < port < 65536:
        raise CommandError(f"port {port} is out of range (1-65535)")
    return host.strip("[]"), port


class Command(BaseCommand):
    help = "Start a supervised worker (with beat) in the background and the web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", help="[host:]port (or use --host/--port)")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000, help="port to listen on")

    def handle(self, *args, addrport=None, host="127.0.0.1", port=8000, **options) -> None:
        host, port = parse_addrport(addrport, host, port)
        schedule = os.path.join(os.environ.get("EMOTIONHUB_VAR_DIR", "var"), "celerybeat-schedule")
        worker = SupervisedWorker(worker_command(schedule))
        # Both stop everything, even where SIGINT was ignored when we started (a shell's
        # background job inherits SIGINT ignored; Python then keeps it ignored). uvicorn
        # handles both while it serves and re-raises the signal once it has shut down.
        signal.signal(signal.SIGTERM, _raise_interrupt)
        signal.signal(signal.SIGINT, _raise_interrupt)
        worker.start()
        warm_up()
        try:
            serve_asgi(host, port)
        except KeyboardInterrupt:
            pass
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT):  # a second one does not interrupt
                signal.signal(signum, signal.SIG_IGN)
            self.stderr.write("Stopping the worker…")
            worker.stop()


def warm_up() -> None:
    """Read the plugins' capabilities before the first request: the registry imports every
    plugin (the face plugin imports torch), which made the first dashboard or review page
    after a start take 2-10 s against 0.15 s for the next."""
    from emotionhub.analyzers.contract import CAPABILITIES
    from emotionhub.analyzers.registry import analyzers_producing

    for capability in CAPABILITIES:
        analyzers_producing(capability)


def serve_asgi(host: str, port: int) -> None:
    """uvicorn on ``host:port``; WebSocket messages up to a base64-encoded largest frame."""
    import uvicorn

    uvicorn.run(
        "emotionhub.asgi:application",
        host=host,
        port=port,
        ws="websockets-sansio",
        ws_max_size=settings.EMOTIONHUB_REALTIME_MAX_FRAME_BYTES * 2,
        lifespan="off",
        log_level="info",
    )
