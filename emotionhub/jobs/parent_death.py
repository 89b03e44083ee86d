"""Run a command that stops when the process that started it dies, SIGKILL included.

``runlocal`` starts its worker in a process group of its own (so that it can stop the
worker's whole tree), which also means a SIGKILLed ``runlocal`` (the OOM killer's pick)
used to leave the worker and its beat running, holding the broker and the database, with
nobody to stop them. On Linux the kernel now sends the command SIGTERM (Celery's warm
shutdown, which also stops the embedded beat) when its parent goes: ``PR_SET_PDEATHSIG``
is set here and survives the ``exec``. Elsewhere the command just runs.

Usage: ``python -m emotionhub.jobs.parent_death PARENT_PID PROGRAM [ARGS...]``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def tied_to_this_process(command: list[str]) -> list[str]:
    """``command`` wrapped so that it ends when the calling process dies.

    The kernel counts the *thread* that started the child as its parent: start it from a
    thread that lives as long as the child should.
    """
    return [sys.executable, "-m", __name__, str(os.getpid()), *command]


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> bool:
    """Ask for ``sig`` when the parent dies; False when it is already gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    # Checked after the prctl: a parent that died before it sent nothing.
    return os.getppid() == parent_pid


def main(argv: list[str]) -> int:
    if len(argv) < 2 or not argv[0].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    if not die_with_parent(int(argv[0])):
        return 0
    os.execv(argv[1], argv[1:])  # noqa: S606 - the program and its arguments, no shell
    return 1  # not reached: execv replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
