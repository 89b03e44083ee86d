"""Run the web server and a Celery worker (with the reconciler schedule) together.

The quick start's single process tree: embedded broker and SQLite unless REDIS_URL and
DATABASE_URL say otherwise. Ctrl-C stops both.
"""

import os
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from emotionhub.celery import QUEUES


class Command(BaseCommand):
    help = "Start a worker (with beat) in the background and the development web server."

    def add_arguments(self, parser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args, addrport, **options) -> None:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "emotionhub",
                "worker",
                "--beat",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "-Q",
                ",".join(QUEUES),
                "--schedule",
                os.path.join(os.environ.get("EMOTIONHUB_VAR_DIR", "var"), "celerybeat-schedule"),
            ],
            env=os.environ.copy(),
        )
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
