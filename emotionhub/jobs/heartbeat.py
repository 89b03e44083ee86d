"""Each worker writes a heartbeat row, so health checks see workers on any broker
(the embedded filesystem broker has no broadcast to ping them).

The row says when the worker last started a task, and in which process: a main process
can keep beating while its task process is wedged, and only that shows it. It also lists
the worker's live task processes, so the reconciler sees a pool process that was killed
(the OOM killer's pick) while its parent keeps beating."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from celery.signals import task_prerun, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

log = logging.getLogger(__name__)
_stop = threading.Event()


def _cuda_available() -> bool | None:
    try:
        import torch
    except ImportError:
        return None
    return bool(torch.cuda.is_available())


def task_pids_of(pool: object) -> Callable[[], list[int]]:
    """The processes that run this worker's tasks: a prefork pool's processes (as
    ``celery inspect stats`` lists them), else the worker itself (threads, solo)."""

    def pids() -> list[int]:
        try:
            processes = pool.info.get("processes")  # type: ignore[attr-defined]
        except Exception:  # a pool starting or stopping: say nothing rather than guess
            return []
        if processes is None:
            return [os.getpid()]
        return sorted(int(pid) for pid in processes if pid)

    return pids


def beat_once(
    hostname: str,
    queues: list[str],
    started_at,
    cuda: bool | None,
    task_pids: Callable[[], list[int]] = list,
) -> None:
    from emotionhub.jobs.models import WorkerHeartbeat

    # Seen before listing: a process that claimed a job before this time and is missing
    # from the list below died after its claim.
    seen_at = timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname,
        defaults={
            "pid": os.getpid(),
            "queues": queues,
            "cuda_available": cuda,
            "started_at": started_at,
            "task_pids": task_pids(),
            "last_seen_at": seen_at,
        },
    )


def _loop(hostname: str, queues: list[str], task_pids: Callable[[], list[int]]) -> None:
    started_at = timezone.now()
    cuda = _cuda_available()
    while not _stop.is_set():
        try:
            close_old_connections()
            beat_once(hostname, queues, started_at, cuda, task_pids)
        except Exception:
            log.exception("worker heartbeat failed")
        finally:
            connection.close()
        _stop.wait(settings.EMOTIONHUB_WORKER_HEARTBEAT_SECONDS)


@worker_ready.connect
def _start(sender=None, **_: object) -> None:
    hostname = getattr(sender, "hostname", None) or "worker"
    controller = getattr(sender, "controller", None)
    queues = []
    if controller is not None and getattr(controller, "app", None) is not None:
        queues = sorted(controller.app.amqp.queues.consume_from or [])
    pool = getattr(controller, "pool", None)
    task_pids = task_pids_of(pool) if pool is not None else list
    threading.Thread(target=_loop, args=(hostname, queues, task_pids), daemon=True).start()


@task_prerun.connect
def _record_task_taken(task=None, **_: object) -> None:
    from emotionhub.jobs.models import WorkerHeartbeat

    hostname = getattr(getattr(task, "request", None), "hostname", None)
    if not hostname:
        return
    try:
        WorkerHeartbeat.objects.filter(hostname=hostname).update(
            last_task_at=timezone.now(), last_task_pid=os.getpid()
        )
    except Exception:  # never fail a task over its bookkeeping
        log.exception("could not record the task start in the heartbeat")


@worker_shutdown.connect
def _stop_and_forget(sender=None, **_: object) -> None:
    _stop.set()
    from emotionhub.jobs.models import WorkerHeartbeat

    try:
        WorkerHeartbeat.objects.filter(hostname=getattr(sender, "hostname", "")).delete()
    except Exception:
        log.exception("could not remove worker heartbeat")
