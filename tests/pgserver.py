"""A real, throwaway PostgreSQL server for tests (Debian's ``postgresql`` package).

    server = start()              # initdb + pg_ctl start in a fresh temp folder
    server.url                    # postgresql+psycopg://planlib:<pw>@127.0.0.1:<port>/planlib
    server.stop()                 # pg_ctl stop -m immediate, then the folder is removed

or, in pytest, the session-scoped ``pg_server`` fixture of ``tests/data/conftest.py``, which stops
and removes everything at the end of the session whether the tests passed or not. A machine
without PostgreSQL makes that fixture *fail* with the install command (``make test`` installs it).

* The binaries come from ``/usr/lib/postgresql/<version>/bin`` (newest version found); the
  system cluster (``/var/lib/postgresql``, port 5432, systemd/pg_ctlcluster) is never touched.
* initdb and pg_ctl refuse to run as root, so as root they are run as the ``postgres`` OS user
  (``runuser -u postgres --``) on a temp folder chowned to it; as any other user they run as
  that user.
* The server listens on 127.0.0.1 only, on a free port, with its unix socket inside the temp
  folder. TCP connections need the password of the created user (scram-sha-256); the socket is
  ``trust`` (only the folder's owner and root can reach it).
* Durability is switched off (fsync, synchronous_commit, full_page_writes): it is a test server.
* An ``atexit`` hook stops a server the caller forgot; a SIGKILLed test process still leaves a
  postmaster behind (its folder is under the temp dir and named ``pgserver-*``).
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

OS_USER = "postgres"
DB_USER = "planlib"
DB_NAME = "planlib"


class PgServerError(RuntimeError):
    pass


def find_bindir() -> Path:
    """``/usr/lib/postgresql/<newest version>/bin`` (override with $PG_BINDIR)."""
    pattern = os.path.join(os.environ["PG_BINDIR"], "initdb") if os.environ.get("PG_BINDIR") \
        else "/usr/lib/postgresql/*/bin/initdb"
    found = glob.glob(pattern)
    if not found:
        raise PgServerError(f"PostgreSQL is not installed (no {pattern}): run `make test` "
                            "(it installs it) or apt-get install -y --no-install-recommends postgresql")

    def version(p: str) -> tuple:
        v = Path(p).parent.parent.name
        return tuple(int(x) if x.isdigit() else 0 for x in v.split("."))

    return Path(max(found, key=version)).parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the postgres OS user when we are root (initdb/pg_ctl refuse root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", OS_USER, "--", *cmd]
    return cmd


def _run(cmd: list[str], what: str, timeout: float = 60) -> str:
    proc = subprocess.run(_as_owner(cmd), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd="/")
    if proc.returncode != 0:
        raise PgServerError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


@dataclass
class PgServer:
    url: str  # SQLAlchemy URL (psycopg 3 driver)
    port: int
    dsn: str  # libpq/psycopg connection string
    root: Path  # the temp folder (data/, socket/, server.log)
    bindir: Path
    timings: dict = field(default_factory=dict)
    _stopped: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def psql(self, sql: str, db: str = DB_NAME) -> str:
        """Run SQL with psql as the superuser over the unix socket (for set-up and COPY)."""
        return _run([str(self.bindir / "psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir),
                     "-p", str(self.port), "-U", OS_USER, "-d", db, "-c", sql], "psql", timeout=600)

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and delete its folder; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        t0 = time.perf_counter()
        try:
            if (self.data / "postmaster.pid").exists():
                try:
                    _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "-t", "30",
                          "stop"], "pg_ctl stop", timeout=60)
                except (PgServerError, subprocess.TimeoutExpired):
                    _kill_postmaster(self.data)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            atexit.unregister(self.stop)
            self.timings["stop_s"] = time.perf_counter() - t0


def _kill_postmaster(data: Path) -> None:
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)  # children notice the postmaster is gone and exit
    except (OSError, ValueError, IndexError):
        pass


def start(*, port: int | None = None, user: str = DB_USER, database: str = DB_NAME,
          settings: dict[str, str] | None = None, attempts: int = 3) -> PgServer:
    """initdb, start and create ``user``/``database``; returns a running :class:`PgServer`."""
    bindir = find_bindir()
    last: Exception | None = None
    for _ in range(attempts):  # a free port can be taken between probing and binding
        try:
            return _start_once(bindir, port or free_port(), user, database, settings or {})
        except PgServerError as exc:
            last = exc
            if port is not None or "could not bind" not in str(exc) and "in use" not in str(exc):
                raise
    raise PgServerError(f"no free port after {attempts} attempts: {last}")


def _start_once(bindir: Path, port: int, user: str, database: str, settings: dict[str, str]) -> PgServer:
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="pgserver-"))
    password = secrets.token_urlsafe(16)  # [A-Za-z0-9_-]: safe inside a SQL literal and a URL
    server = PgServer(url=f"postgresql+psycopg://{user}:{password}@127.0.0.1:{port}/{database}", port=port,
                      dsn=f"host=127.0.0.1 port={port} dbname={database} user={user} password={password}",
                      root=root, bindir=bindir)
    atexit.register(server.stop)
    try:
        (root / "socket").mkdir()
        if os.geteuid() == 0:
            pw = pwd.getpwnam(OS_USER)
            for p in (root, root / "socket"):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
        _run([str(bindir / "initdb"), "-D", str(server.data), "-U", OS_USER, "--auth-local=trust",
              "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
              "--no-instructions"], "initdb", timeout=120)
        conf = {
            "listen_addresses": "'127.0.0.1'", "port": str(port),
            "unix_socket_directories": f"'{root / 'socket'}'",
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
            "shared_buffers": "'128MB'", "max_connections": "20", "logging_collector": "off",
            **settings,
        }
        # initdb ran as postgres, so append through it as well (the file is 0600 postgres)
        lines = "".join(f"{k} = {v}\n" for k, v in conf.items())
        with open(server.data / "postgresql.conf", "a") as fh:  # root can write; ownership is kept
            fh.write("\n# pgserver.py\n" + lines)
        server.timings["initdb_s"] = time.perf_counter() - t0
        _run([str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(root / "server.log"), "-w", "-t", "60",
              "start"], "pg_ctl start", timeout=90)
        server.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'", db="postgres")
        server.psql(f"CREATE DATABASE {database} OWNER {user}", db="postgres")  # not in a transaction
        server.timings["start_s"] = time.perf_counter() - t0
        return server
    except BaseException as exc:
        log = root / "server.log"
        detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        server.stop()
        if isinstance(exc, PgServerError) and detail:
            raise PgServerError(f"{exc}\n--- server.log ---\n{detail}") from None
        raise


def load_frame(engine, table: str, frame, chunk_rows: int = 200_000) -> float:
    """(Re)create ``table`` for canonical transactions and COPY ``frame`` into it; returns seconds.

    Columns: order_id text (when present), customer_id text, order_date timestamp, amount float8
    (plus any other columns as text). Rows go through ``COPY ... FROM STDIN (FORMAT csv)`` in
    chunks, so memory stays at one chunk of CSV text.
    """
    types = {"order_id": "text", "customer_id": "text", "order_date": "timestamp", "amount": "double precision"}
    cols = [str(c) for c in frame.columns]
    quoted = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
    ddl = ", ".join('"' + c.replace('"', '""') + '" ' + types.get(c, "text") for c in cols)
    name = '"' + table.replace('"', '""') + '"'
    t0 = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {name}")
            cur.execute(f"CREATE TABLE {name} ({ddl})")
            with cur.copy(f"COPY {name} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
                for i in range(0, len(frame), chunk_rows):
                    copy.write(frame.iloc[i:i + chunk_rows].to_csv(index=False, header=False))
            cur.execute(f"ANALYZE {name}")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - t0


if __name__ == "__main__":
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        s = start()
        up = time.perf_counter() - t0
        s.stop()
        runs.append((up, s.timings["initdb_s"], s.timings["stop_s"], time.perf_counter() - t0))
        assert not s.root.exists()
    for up, initdb, stop, total in runs:
        print(f"initdb {initdb:.2f} s, start (initdb+pg_ctl+create user/db) {up:.2f} s, "
              f"stop+rm {stop:.2f} s, total {total:.2f} s")
