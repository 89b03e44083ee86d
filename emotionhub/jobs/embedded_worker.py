"""The quick start's worker, run and kept alive by ``manage.py runlocal``.

It runs tasks in threads of one process (``--pool threads``), not in a prefork child: on
the filesystem broker, a prefork child SIGKILLed while idle (the OOM killer's choice) left
its replacement blocked forever in billiard's queue lock, jobs stayed queued and SIGTERM
no longer stopped the worker. Should the worker process itself die, the supervisor kills
what is left of its process group (the embedded beat) and starts a new one. Should the
supervisor die, SIGKILL included, the worker is sent SIGTERM (:mod:`.parent_death`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from emotionhub.celery import QUEUES
from emotionhub.jobs.parent_death import tied_to_this_process

log = logging.getLogger(__name__)
RESTART_DELAY_SECONDS = 2.0


def worker_command(schedule_path: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "emotionhub",
        "worker",
        "--beat",
        "--pool",
        "threads",
        "--concurrency",
        "1",
        "--loglevel",
        "INFO",
        "-Q",
        ",".join(QUEUES),
        "--schedule",
        schedule_path,
    ]


class SupervisedWorker:
    """Starts the worker in its own process group and restarts it when it dies.

    The worker ends with the thread that started it: the caller's (``start``) or the
    watcher's (a restart), both of which live until ``stop``.
    """

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.command = command
        self.env = env if env is not None else os.environ.copy()
        self.restarts = 0
        self._stopping = threading.Event()
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, daemon=True)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        with self._lock:
            self._process = subprocess.Popen(
                tied_to_this_process(self.command), env=self.env, start_new_session=True
            )

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None:
                if self._stopping.is_set():
                    return
                log.error("embedded worker exited with %s; restarting it", process.returncode)
                self._kill_group(process.pid, signal.SIGKILL)
                self._stopping.wait(RESTART_DELAY_SECONDS)
                if self._stopping.is_set():
                    return
                self.restarts += 1
                self._spawn()
            self._stopping.wait(0.5)

    @staticmethod
    def _kill_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)

    def stop(self, timeout: float = 30) -> None:
        """Warm shutdown (running tasks finish), then SIGKILL for what remains."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return
        self._kill_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        self._kill_group(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
