#!/usr/bin/env python3
"""Start real PostgreSQL and Redis servers for the test suite, run a command, tear them down.

Usage::

    python scripts/testenv.py [--keep-dir] -- CMD [ARGS...]

The servers listen on free ports on 127.0.0.1 only and keep all their files in one temporary
directory, so several runs (or several engineers) can share a machine without clashing.
The command runs with these environment variables set:

* ``DATABASE_URL``   ``postgres://postgres@127.0.0.1:<port>/emotionhub`` (database created)
* ``REDIS_URL``      ``redis://127.0.0.1:<port>/0``
* ``EMOTIONHUB_TESTENV_DIR``   the temporary directory
* ``EMOTIONHUB_REDIS_SERVER``  the ``redis-server`` binary, so tests can run their own Redis

If ``DATABASE_URL`` or ``REDIS_URL`` is already set, that service is reused and not started,
so a developer can point the suite at servers of their own.  The script exits with the
command's exit code and always stops what it started (normal exit, exception, SIGINT,
SIGTERM, SIGHUP).

Missing servers are installed with apt when running as root (CI is a fresh Debian 12 box).
PostgreSQL refuses to run as root, so as root its binaries run as the unprivileged OS user
``pgtest`` (created on demand).  Standard library only: this runs before any pip install.

The module is importable too (``scripts/`` is not a package; load it with importlib):
``start_postgres(base_dir)`` and ``start_redis(base_dir)`` return server objects with
``.url`` and ``.stop()``; ``RedisServer.restart()`` lets tests simulate a Redis outage.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

HOST = "127.0.0.1"
DB_NAME = "emotionhub"
PG_SUPERUSER = "postgres"
# OS account that runs PostgreSQL when we are root (initdb/postgres refuse to run as root).
PG_OS_USER = "pgtest"
# Fast, throw-away settings: durability is pointless for a test database.
PG_SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
)
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
# Exit status when the environment itself could not be set up (like docker run's 125).
SETUP_FAILED_EXIT = 125
# Unix socket paths are limited to 108 bytes; longer socket dirs make postgres fail to start.
_MAX_SOCKET_DIR_LEN = 90


class TestEnvError(RuntimeError):
    """The test environment could not be set up; the message says why (with log tails)."""

    __test__ = False  # not a pytest test class despite the name


def log(message: str) -> None:
    """Progress goes to stderr so it never mixes with the wrapped command's stdout."""
    print(f"[testenv] {message}", file=sys.stderr, flush=True)


def is_root() -> bool:
    return os.geteuid() == 0


def free_port() -> int:
    """Ask the kernel for a currently free loopback port (racy; callers retry on conflict)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    """Last lines of a server log, for error messages that explain a failed start."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log at {path}: {exc})"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) if tail else f"(log {path} is empty)"


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists": reap it if it is our child, and count it as dead either way
    # (a daemonized postmaster is reparented to init, which may reap it only later).
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): trust kill(0)
    return stat_line.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _read_pid(pidfile: Path) -> int | None:
    try:
        first = pidfile.read_text().split()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _kill_pid(pid: int, sig: signal.Signals, wait: float) -> bool:
    """Send ``sig`` to ``pid`` and wait for it to exit; True once it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    return _wait_until(lambda: not _pid_alive(pid), wait)


def remove_tree(path: Path) -> None:
    """``rm -rf`` that retries briefly: exiting server processes may still be writing."""
    for _ in range(20):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(0.1)
    log(f"could not remove {path} completely")


def apt_install(*packages: str) -> None:
    """Install Debian packages (root only).  ``apt-get update`` runs only if needed.

    Fresh Debian images ship without package lists, so a first failure is followed by an
    update and a second attempt; machines with lists skip the slow update.
    """
    if not is_root() or shutil.which("apt-get") is None:
        raise TestEnvError(
            f"need {' '.join(packages)} but cannot install it (not root or no apt-get); "
            "install it yourself or set DATABASE_URL/REDIS_URL to existing servers"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]  # another apt run may hold the lock
    install = ["apt-get", *wait_for_lock, "install", "-y", "--no-install-recommends", *packages]
    log(f"installing {' '.join(packages)} with apt-get")
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode == 0:
        return
    log("apt-get install failed; running apt-get update and retrying")
    update = ["apt-get", *wait_for_lock, "update"]
    subprocess.run(update, env=env, stdout=subprocess.DEVNULL, check=False)
    result = subprocess.run(install, env=env, stdout=subprocess.DEVNULL)
    if result.returncode != 0:
        raise TestEnvError(f"apt-get install {' '.join(packages)} failed ({result.returncode})")


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _debian_pg_bindirs() -> list[Path]:
    """Debian's versioned PostgreSQL bin dirs, newest major version first."""

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    found = glob.glob("/usr/lib/postgresql/*/bin")
    return [Path(p) for p in sorted(found, key=version, reverse=True)]


def find_postgres_bindir(install: bool = True) -> Path:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres``.

    Order: /usr/local/bin (this project's CI image), Debian's /usr/lib/postgresql/*/bin,
    then PATH.  As root, installs the ``postgresql`` package when ``install`` is true.
    """
    candidates = [Path("/usr/local/bin"), *_debian_pg_bindirs()]
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    if install:
        apt_install("postgresql")
        return find_postgres_bindir(install=False)
    raise TestEnvError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found")


def find_pg_client(name: str, bindir: Path | None = None) -> Path | None:
    """A PostgreSQL client tool (``psql``, ``createdb``) matching the server if possible.

    /usr/local/bin may hold only server symlinks, so also look next to their targets, in
    Debian's versioned dirs and finally on PATH (Debian's pg_wrapper scripts).
    """
    dirs: list[Path] = []
    if bindir is not None:
        dirs.append(bindir)
        with contextlib.suppress(OSError):
            dirs.append((bindir / "initdb").resolve().parent)
    dirs.extend(_debian_pg_bindirs())
    for directory in dirs:
        candidate = directory / name
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def _ensure_os_user(name: str) -> pwd.struct_passwd:
    """Look up (creating if necessary) the unprivileged account that runs postgres as root."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    log(f"creating OS user {name!r} to run PostgreSQL (it refuses to run as root)")
    result = subprocess.run(["useradd", "-m", name], capture_output=True, text=True)
    try:
        # A concurrent run may have created it first; that's fine.
        return pwd.getpwnam(name)
    except KeyError:
        raise TestEnvError(f"useradd {name} failed: {result.stderr.strip()}") from None


def _traversable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` can reach ``path`` (x permission on it and every ancestor)."""
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif st.st_gid in groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


class PostgresServer:
    """A private PostgreSQL cluster (initdb'd data dir + postmaster) on 127.0.0.1.

    Use :func:`start_postgres`.  ``stop()`` is idempotent and also registered with atexit,
    so a crashed test run does not leave a postmaster behind.
    """

    def __init__(
        self,
        root: Path,
        bindir: Path,
        user: pwd.struct_passwd | None,
        remove_root_on_stop: bool,
    ) -> None:
        self.root = root
        self.data_dir = root / "data"
        self.log_file = root / "postgres.log"
        self.bindir = bindir
        self.user = user
        self.remove_root_on_stop = remove_root_on_stop
        self.port = 0
        self.dbname = DB_NAME
        self._start_attempted = False  # stop() must clean up even after a failed start
        self._running = False

    @property
    def url(self) -> str:
        """``DATABASE_URL`` for the test database (trust auth, so no password)."""
        return f"postgres://{PG_SUPERUSER}@{HOST}:{self.port}/{self.dbname}"

    def _env(self) -> dict[str, str]:
        # PG* variables (PGHOST, PGDATA, PGOPTIONS...) from the caller must not redirect our
        # tools elsewhere; a C locale avoids initdb failing on ungenerated locales.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self.user is not None:
            env.update(HOME=self.user.pw_dir, USER=self.user.pw_name, LOGNAME=self.user.pw_name)
        return env

    def _run(
        self,
        args: Sequence[str | Path],
        timeout: float,
        as_owner: bool = True,
        stdin_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL tool, as the cluster owner when we are root.

        The tool gets its own process group, killed as a whole if we are interrupted:
        initdb's bootstrap ``postgres`` children would otherwise keep writing into the
        directory we are about to delete.
        """
        kwargs: dict[str, object] = {}
        if as_owner and self.user is not None:
            kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        argv = [str(a) for a in args]
        with subprocess.Popen(
            argv,
            env=self._env(),
            cwd=self.root,
            stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=0,
            **kwargs,  # type: ignore[arg-type]
        ) as proc:
            try:
                stdout, stderr = proc.communicate(stdin_text, timeout=timeout)
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)

    def _fail(self, what: str, result: subprocess.CompletedProcess[str] | None) -> TestEnvError:
        output = ""
        if result is not None:
            output = (result.stdout + result.stderr).strip()
        return TestEnvError(
            f"PostgreSQL: {what}\n  output: {output or '(none)'}\n"
            f"  log {self.log_file}:\n{log_tail(self.log_file)}"
        )

    def initdb(self) -> None:
        result = self._run(
            [
                self.bindir / "initdb",
                "-D",
                self.data_dir,
                "-A",
                "trust",
                "-U",
                PG_SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=120,
        )
        if result.returncode != 0:
            raise self._fail("initdb failed", result)

    def _socket_option(self) -> str:
        if len(str(self.root)) <= _MAX_SOCKET_DIR_LEN:
            return f"-k {shlex.quote(str(self.root))}"
        return "-c unix_socket_directories=''"  # TCP only; the socket path would be too long

    def start(self, port: int) -> None:
        """Start the postmaster on ``port`` and wait until it accepts connections."""
        self.port = port
        self._start_attempted = True
        options = f"-p {port} {self._socket_option()} -c listen_addresses={HOST} "
        result = self._run(
            [
                self.bindir / "pg_ctl",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
                "-o",
                options + PG_SERVER_OPTIONS,
                "-w",
                "-t",
                str(int(START_TIMEOUT)),
                "start",
            ],
            timeout=START_TIMEOUT + 15,
        )
        if result.returncode != 0:
            self._kill_postmaster()
            raise self._fail(f"pg_ctl start on port {port} failed", result)
        self._running = True

    def _client_method(self) -> str:
        """How to create the database: the newest tool available on this machine."""
        for tool in ("createdb", "psql"):
            if find_pg_client(tool, self.bindir) is not None:
                return tool
        try:
            import psycopg2  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            return "single-user"  # only the server binary: works with nothing else installed
        return "psycopg2"

    def create_database(self) -> None:
        """Create the test database on the running server with whichever client exists."""
        method = self._client_method()
        conn = ["-h", HOST, "-p", str(self.port), "-U", PG_SUPERUSER]
        if method == "createdb":
            createdb = find_pg_client("createdb", self.bindir)
            result = self._run([createdb or "createdb", *conn, self.dbname], 60, as_owner=False)
        elif method == "psql":
            psql = find_pg_client("psql", self.bindir)
            sql = f'CREATE DATABASE "{self.dbname}"'
            args = [psql or "psql", *conn, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql]
            result = self._run(args, timeout=60, as_owner=False)
        elif method == "psycopg2":
            self._create_database_psycopg2()
            return
        else:
            return  # created by create_database_offline() before the server started
        if result.returncode != 0:
            raise self._fail(f"creating database {self.dbname!r} failed", result)

    def create_database_offline(self) -> None:
        """Without any client, create the database in single-user mode before the start."""
        if self._client_method() != "single-user":
            return
        result = self._run(
            [self.bindir / "postgres", "--single", "-D", self.data_dir, "-F", "postgres"],
            timeout=60,
            stdin_text=f'CREATE DATABASE "{self.dbname}";\n',
        )
        if result.returncode != 0:
            raise self._fail(f"creating database {self.dbname!r} (single-user mode) failed", result)

    def _create_database_psycopg2(self) -> None:
        import psycopg2  # type: ignore[import-untyped]

        connection = psycopg2.connect(
            host=HOST, port=self.port, user=PG_SUPERUSER, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{self.dbname}"')
        finally:
            connection.close()

    def _postmaster_pid(self) -> int | None:
        return _read_pid(self.data_dir / "postmaster.pid")

    def _kill_postmaster(self) -> None:
        """Last resort: SIGQUIT (immediate shutdown), then SIGKILL, via postmaster.pid."""
        pid = self._postmaster_pid()
        if pid is None or not _pid_alive(pid):
            return
        if not _kill_pid(pid, signal.SIGQUIT, 10):
            _kill_pid(pid, signal.SIGKILL, 10)

    def stop(self) -> None:
        """Stop the server (``pg_ctl stop -m fast``); safe to call more than once."""
        if self._start_attempted:
            pid_file = self.data_dir / "postmaster.pid"
            if not self._running:
                # pg_ctl start failed or was interrupted; a postmaster may still be coming up.
                _wait_until(pid_file.exists, 1.0)
            if pid_file.exists():
                try:
                    result = self._run(
                        [self.bindir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"],
                        timeout=STOP_TIMEOUT,
                    )
                    if result.returncode != 0:
                        log(f"pg_ctl stop failed: {(result.stdout + result.stderr).strip()}")
                except subprocess.TimeoutExpired:
                    log("pg_ctl stop timed out")
            self._kill_postmaster()
            # Cleared only now, so a stop() interrupted half-way is redone by the atexit one.
            self._start_attempted = self._running = False
        if self.remove_root_on_stop:
            self.remove_root_on_stop = False
            remove_tree(self.root)


def _postgres_root(base_dir: Path, user: pwd.struct_passwd | None) -> tuple[Path, bool]:
    """A fresh directory for the cluster, reachable by the account that runs postgres.

    Returns ``(path, owned)``: ``owned`` means it lies outside ``base_dir`` (because the
    ``pgtest`` user cannot traverse ``base_dir``, e.g. pytest's 0700 tmp dirs) and
    must be removed by ``stop()``.
    """
    parents = [base_dir]
    if user is not None:
        parents += [Path(tempfile.gettempdir()), Path("/tmp")]
    for parent in parents:
        if user is not None and not _traversable_by(parent, user):
            continue
        prefix = "pg-" if parent == base_dir else "emotionhub-pg-"
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        root.chmod(0o700)
        return root, parent != base_dir
    raise TestEnvError(f"no directory reachable by OS user {PG_OS_USER!r} for PostgreSQL")


def start_postgres(base_dir: Path | str, attempts: int = 3) -> PostgresServer:
    """Install if needed, initdb and start PostgreSQL under ``base_dir``; create the database.

    As root the server runs as the ``pgtest`` account.  The port is picked free and retried
    on a bind race.  Raises :class:`TestEnvError` (with the server log tail) on failure.
    """
    base_dir = Path(base_dir).resolve()
    bindir = find_postgres_bindir(install=True)
    user = _ensure_os_user(PG_OS_USER) if is_root() else None
    root, owned = _postgres_root(base_dir, user)
    server = PostgresServer(root, bindir, user, remove_root_on_stop=owned)
    atexit.register(server.stop)
    try:
        server.initdb()
        server.create_database_offline()
        for attempt in range(1, attempts + 1):
            try:
                server.start(free_port())
                break
            except TestEnvError:
                if attempt == attempts:
                    raise
                log(f"PostgreSQL did not start on port {server.port}; retrying on another")
        server.create_database()
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


def find_redis_server(install: bool = True) -> Path:
    """Path of ``redis-server``; as root installs Debian's package when missing."""
    for candidate in (shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and os.access(candidate, os.X_OK):
            # Not resolve(): redis-server is a symlink and picks its mode from argv[0].
            return Path(candidate).absolute()
    if install:
        apt_install("redis-server")
        return find_redis_server(install=False)
    raise TestEnvError("redis-server not found")


def redis_ping(port: int, host: str = HOST, timeout: float = 1.0) -> bool:
    """True if a Redis server answers PING on ``host:port`` (raw RESP; no client library)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = sock.recv(64)
                if not chunk:
                    break
                reply += chunk
            return reply.startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A private ``redis-server`` on 127.0.0.1 with its files in one directory.

    Runs in its own session (so a terminal Ctrl-C reaches only the test command, and we tear
    it down in order).  ``restart()`` keeps the port, so ``url`` stays valid: tests use it
    to simulate Redis going away and coming back.
    """

    def __init__(self, directory: Path, binary: Path, port: int) -> None:
        self.dir = directory
        self.binary = binary
        self.port = port
        self.pidfile = directory / "redis.pid"
        self.log_file = directory / "redis.log"
        self.output_file = directory / "redis.out"  # stdout/stderr before the log opens
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        return _read_pid(self.pidfile)

    def ping(self) -> bool:
        return redis_ping(self.port)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start (not daemonized, so an early exit is seen at once) and wait for PONG."""
        args = [
            str(self.binary),
            "--port", str(self.port),
            "--bind", HOST,
            "--daemonize", "no",
            "--pidfile", str(self.pidfile),
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(self.log_file),
        ]  # fmt: skip
        with self.output_file.open("ab") as output:
            self._proc = subprocess.Popen(
                args,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = self._proc
        if not _wait_until(lambda: proc.poll() is not None or self.ping(), timeout):
            self._terminate()
            raise TestEnvError(
                f"Redis on port {self.port} did not answer PING within {timeout:.0f}s\n"
                + self._failure_details()
            )
        if proc.poll() is not None:
            self._proc = None
            raise TestEnvError(
                f"redis-server on port {self.port} exited with {proc.returncode}\n"
                + self._failure_details()
            )

    def _failure_details(self) -> str:
        return (
            f"  output {self.output_file}:\n{log_tail(self.output_file, 10)}\n"
            f"  log {self.log_file}:\n{log_tail(self.log_file)}"
        )

    def _terminate(self) -> None:
        """SIGTERM, then SIGKILL, the process we started (or the one in the pidfile)."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            return
        pid = _read_pid(self.pidfile)
        if pid is not None and _pid_alive(pid) and not _kill_pid(pid, signal.SIGTERM, 10):
            _kill_pid(pid, signal.SIGKILL, 10)

    def stop(self) -> None:
        """``SHUTDOWN NOSAVE``, falling back to signals; safe to call more than once."""
        pid = self.pid
        if pid is None or not _pid_alive(pid):
            self._terminate()  # reaps a child that has already exited
            return
        with (
            contextlib.suppress(OSError),
            socket.create_connection((HOST, self.port), timeout=2) as sock,
        ):
            sock.sendall(b"SHUTDOWN NOSAVE\r\n")
            sock.settimeout(5)
            sock.recv(64)  # empty once the server closed the connection
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        else:
            _wait_until(lambda: not _pid_alive(pid), 10)
        self._terminate()
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()

    def restart(self, downtime: float = 0.0) -> None:
        """Stop, optionally stay down for ``downtime`` seconds, start again on the same port."""
        self.stop()
        if downtime > 0:
            time.sleep(downtime)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except TestEnvError:
                # The old socket may linger for a moment; the port is ours, so retry.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)


def start_redis(base_dir: Path | str, attempts: int = 3) -> RedisServer:
    """Install if needed and start Redis (no persistence) in a new dir under ``base_dir``.

    The port is picked free and retried on a bind race.  Raises :class:`TestEnvError`
    (with the server log tail) on failure.
    """
    base_dir = Path(base_dir).resolve()
    binary = find_redis_server(install=True)
    directory = Path(tempfile.mkdtemp(prefix="redis-", dir=base_dir))
    for attempt in range(1, attempts + 1):
        server = RedisServer(directory, binary, free_port())
        atexit.register(server.stop)
        try:
            server.start()
        except TestEnvError:
            server.stop()
            if attempt == attempts:
                raise
            log(f"Redis did not start on port {server.port}; retrying on another")
            continue
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


class _Terminated(BaseException):
    """Raised from a signal handler while setting up, to unwind into the cleanup code."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _sigint_from_terminal() -> bool:
    """Whether a SIGINT came from the terminal, which already sent it to the whole group."""
    for stream in (sys.stdin, sys.stderr):
        try:
            if os.tcgetpgrp(stream.fileno()) == os.getpgrp():
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def _run_command(cmd: list[str], env: dict[str, str]) -> int:
    """Run the command, forwarding SIGTERM/SIGHUP (and non-terminal SIGINT) to it."""
    procs: list[subprocess.Popen[bytes]] = []
    received: list[int] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if not procs:
            return  # not started yet: delivered right after Popen below
        # Ctrl-C already reached the child (same process group); repeat it only if pressed
        # again, and kill outright on the third signal.
        if len(received) >= 3:
            sig = signal.SIGKILL
        elif signum == signal.SIGINT and len(received) == 1 and _sigint_from_terminal():
            return
        else:
            sig = signal.Signals(signum)
        with contextlib.suppress(ProcessLookupError):
            procs[0].send_signal(sig)

    for sig in _HANDLED_SIGNALS:
        signal.signal(sig, forward)
    try:
        procs.append(subprocess.Popen(cmd, env=env))
    except OSError as exc:
        log(f"cannot run {cmd[0]!r}: {exc}")
        return 127 if isinstance(exc, FileNotFoundError) else 126
    if received:
        # A signal arrived while the child was being spawned; it may have missed it.
        with contextlib.suppress(ProcessLookupError):
            procs[0].send_signal(received[-1])
    returncode = procs[0].wait()
    return 128 - returncode if returncode < 0 else returncode


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run CMD with real PostgreSQL and Redis servers (DATABASE_URL, REDIS_URL).",
        usage="%(prog)s [--keep-dir] -- CMD [ARGS...]",
    )
    parser.add_argument(
        "--keep-dir", action="store_true", help="keep the temporary directory (server logs)"
    )
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("no command given (use: -- CMD [ARGS...])")

    started: list[PostgresServer | RedisServer] = []
    base_dir: Path | None = None
    cleaned = False

    def cleanup() -> None:
        nonlocal cleaned
        for sig in _HANDLED_SIGNALS:  # a second Ctrl-C must not abort the teardown
            signal.signal(sig, signal.SIG_IGN)
        if cleaned:
            return
        cleaned = True
        for server in reversed(started):
            try:
                server.stop()
            except Exception as exc:  # keep going: the other server must stop too
                log(f"error stopping {type(server).__name__}: {exc}")
        if base_dir is None:
            pass
        elif args.keep_dir:
            log(f"kept {base_dir}")
        else:
            remove_tree(base_dir)

    interrupted = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Raise once; repeated Ctrl-C must not break the cleanup that this one triggers.
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise _Terminated(signum)

    # atexit first: it still runs if a signal lands anywhere below, before the try/finally.
    atexit.register(cleanup)
    for sig in _HANDLED_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        try:
            base_dir = Path(tempfile.mkdtemp(prefix="emotionhub-testenv-"))
            base_dir.chmod(0o755)  # the pgtest user must be able to reach its data dir inside
            env = dict(os.environ)
            env["EMOTIONHUB_TESTENV_DIR"] = str(base_dir)
            if env.get("DATABASE_URL"):
                log("DATABASE_URL is set; using that PostgreSQL")
            else:
                postgres = start_postgres(base_dir)
                started.append(postgres)
                env["DATABASE_URL"] = postgres.url
                log(f"PostgreSQL {postgres.url} (log {postgres.log_file})")
            if env.get("REDIS_URL"):
                log("REDIS_URL is set; using that Redis")
                if not env.get("EMOTIONHUB_REDIS_SERVER"):
                    with contextlib.suppress(TestEnvError):
                        env["EMOTIONHUB_REDIS_SERVER"] = str(find_redis_server(install=False))
            else:
                redis = start_redis(base_dir)
                started.append(redis)
                env["REDIS_URL"] = redis.url
                env["EMOTIONHUB_REDIS_SERVER"] = str(redis.binary)
                log(f"Redis {redis.url} (log {redis.log_file})")
        except TestEnvError as exc:
            log(f"setup failed: {exc}")
            return SETUP_FAILED_EXIT
        except _Terminated as exc:
            log(f"interrupted by signal {exc.signum} during setup")
            return 128 + exc.signum
        return _run_command(cmd, env)
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
