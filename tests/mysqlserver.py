"""A real, throwaway MySQL-compatible server for tests (Debian's ``mariadb-server`` package).

    server = start()              # mariadb-install-db + mariadbd in a fresh temp folder
    server.url                    # mysql+pymysql://planlib:<pw>@127.0.0.1:<port>/planlib?charset=utf8mb4
    server.execute("CREATE TABLE …")   # as the server's root user, over the unix socket
    server.stop()                 # SIGTERM (a clean shutdown), then the folder is removed

or, in pytest, the session-scoped ``mysql_server`` fixture of ``tests/data/conftest.py``, which stops
and removes everything at the end of the session whether the tests passed or not. A machine without
MariaDB makes that fixture *fail* with the install command (``make test`` installs it).

The same shape as ``tests/pgserver.py`` (and its :func:`~pgserver.free_port` and port retry):

* The system server (``/var/lib/mysql``, port 3306, systemd) is never touched: ``--no-defaults``
  keeps every ``my.cnf`` out, the data folder, socket, pid file and log are in the temp folder.
* mariadbd refuses to run as root; as root it is started with ``--user=mysql`` (it drops to that
  OS user itself, so the process we started *is* the server and SIGTERM reaches it) on a temp folder
  chowned to ``mysql``; as any other user it runs as that user.
* It listens on 127.0.0.1 only, on a free port; TCP needs the password of the created user. The
  server's root user has no password and is reachable only through the socket in the temp folder.
* Durability is switched off (no binlog, no doublewrite, log flushed once a second): a test server.
* An ``atexit`` hook stops a server the caller forgot; a SIGKILLed test process leaves a mariadbd
  behind (its folder is under the temp dir and named ``mysqlserver-*``).
"""

from __future__ import annotations

import atexit
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

from pgserver import free_port

OS_USER = "mysql"
DB_USER = "planlib"
DB_NAME = "planlib"
INSTALL = "apt-get install -y --no-install-recommends mariadb-server"
# A small, fast, throwaway server: no binlog, no fsync per commit, small buffers (2 shared cores).
SERVER_OPTIONS = ["--skip-log-bin", "--skip-name-resolve", "--innodb-doublewrite=0",
                  "--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M",
                  "--innodb-log-file-size=16M", "--character-set-server=utf8mb4",
                  "--collation-server=utf8mb4_general_ci", "--max-connections=30"]


class MySqlServerError(RuntimeError):
    pass


def find_binaries() -> tuple[Path, Path]:
    """(mariadbd, mariadb-install-db); ``$MARIADB_BINDIR`` overrides the search."""
    hints = [os.environ["MARIADB_BINDIR"]] if os.environ.get("MARIADB_BINDIR") else ["/usr/sbin", "/usr/bin"]
    path = os.pathsep.join(hints + [os.environ.get("PATH", "")])
    server = shutil.which("mariadbd", path=path) or shutil.which("mysqld", path=path)
    install = shutil.which("mariadb-install-db", path=path) or shutil.which("mysql_install_db", path=path)
    if not server or not install:
        raise MySqlServerError(f"MariaDB is not installed (no mariadbd / mariadb-install-db): run `make test` "
                               f"(it installs it) or {INSTALL}")
    return Path(server), Path(install)


def _user_args() -> list[str]:
    return [f"--user={OS_USER}"] if os.geteuid() == 0 else []


@dataclass
class MySqlServer:
    url: str  # SQLAlchemy URL (PyMySQL driver)
    port: int
    password: str
    root: Path  # the temp folder (data/, mysqld.sock, error.log)
    process: subprocess.Popen | None = None
    timings: dict = field(default_factory=dict)
    _stopped: bool = False

    @property
    def socket(self) -> Path:
        return self.root / "mysqld.sock"

    @property
    def log(self) -> Path:
        return self.root / "error.log"

    def connect(self, database: str | None = DB_NAME):
        """A PyMySQL connection as the server's root user over the unix socket (for set-up)."""
        import pymysql

        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", database=database,
                               charset="utf8mb4", autocommit=True, local_infile=False)

    def execute(self, sql: str, database: str | None = DB_NAME) -> list[tuple]:
        """Run one or more ``;``-separated statements as root; the rows of the last one."""
        con = self.connect(database)
        try:
            with con.cursor() as cur:
                rows: list[tuple] = []
                for statement in (s.strip() for s in sql.split(";")):
                    if statement:
                        cur.execute(statement)
                        rows = list(cur.fetchall())
                return rows
        finally:
            con.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM: a clean shutdown; SIGKILL after 30 s) and delete its folder."""
        if self._stopped:
            return
        self._stopped = True
        t0 = time.perf_counter()
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(30)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            atexit.unregister(self.stop)
            self.timings["stop_s"] = time.perf_counter() - t0


def start(*, port: int | None = None, user: str = DB_USER, database: str = DB_NAME,
          options: list[str] | None = None, attempts: int = 3) -> MySqlServer:
    """Install a data folder, start mariadbd, create ``user`` and ``database`` (utf8mb4)."""
    server_bin, install_bin = find_binaries()
    last: Exception | None = None
    for _ in range(attempts):  # a free port can be taken between probing and binding
        try:
            return _start_once(server_bin, install_bin, port or free_port(), user, database, options or [])
        except MySqlServerError as exc:
            last = exc
            if port is not None or "Address already in use" not in str(exc):
                raise
    raise MySqlServerError(f"no free port after {attempts} attempts: {last}")


def _start_once(server_bin: Path, install_bin: Path, port: int, user: str, database: str,
                options: list[str]) -> MySqlServer:
    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="mysqlserver-"))
    password = secrets.token_urlsafe(16)  # [A-Za-z0-9_-]: safe inside a SQL literal and a URL
    server = MySqlServer(url=f"mysql+pymysql://{user}:{password}@127.0.0.1:{port}/{database}?charset=utf8mb4",
                         port=port, password=password, root=root)
    atexit.register(server.stop)
    try:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(OS_USER)
            os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
        common = ["--no-defaults", *_user_args(), f"--datadir={root / 'data'}", *SERVER_OPTIONS, *options]
        proc = subprocess.run([str(install_bin), *common, "--auth-root-authentication-method=normal",
                               "--skip-test-db"], capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, cwd="/")
        if proc.returncode != 0:
            raise MySqlServerError(f"mariadb-install-db failed ({proc.returncode}): "
                                   f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        server.timings["install_s"] = time.perf_counter() - t0
        server.process = subprocess.Popen(
            [str(server_bin), *common, f"--port={port}", "--bind-address=127.0.0.1", f"--socket={server.socket}",
             f"--pid-file={root / 'mysqld.pid'}", f"--log-error={server.log}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        _wait_ready(server, timeout=60)
        server.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci; "
                       f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; "
                       f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'127.0.0.1'", database=None)
        server.timings["start_s"] = time.perf_counter() - t0
        return server
    except BaseException as exc:
        detail = server.log.read_text(errors="replace")[-2000:] if server.log.exists() else ""
        server.stop()
        if isinstance(exc, MySqlServerError) and detail:
            raise MySqlServerError(f"{exc}\n--- error.log ---\n{detail}") from None
        raise


def _wait_ready(server: MySqlServer, timeout: float) -> None:
    """Until the socket accepts a connection (mariadbd has no "wait" flag like pg_ctl -w).

    Probed with a plain socket: PyMySQL leaks its socket when a unix-socket connect fails.
    """
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise MySqlServerError(f"mariadbd exited with {server.process.returncode} while starting")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(server.socket))
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise MySqlServerError(f"mariadbd did not accept connections within {timeout:.0f} s")
        time.sleep(0.1)


def load_rows(server: MySqlServer, table: str, columns: dict[str, str], frame, chunk_rows: int = 5_000,
              database: str = DB_NAME) -> float:
    """(Re)create ``table`` with ``columns`` (name → MySQL type, e.g. ``{"客户编号": "VARCHAR(32)"}``)
    and insert ``frame``'s rows (its columns in that order; NaN/NaT → NULL); returns seconds.

    Plain multi-row INSERTs through PyMySQL: ``LOAD DATA LOCAL INFILE`` would need local_infile on
    both ends, and the demo's few thousand rows take well under a second this way.
    """
    import pandas as pd

    names = list(columns)
    quoted = ", ".join(f"`{c}`" for c in names)
    ddl = ", ".join(f"`{c}` {t}" for c, t in columns.items())
    rows = frame.astype(object).where(pd.notna(frame), None).itertuples(index=False, name=None)
    rows = [tuple(v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row) for row in rows]
    t0 = time.perf_counter()
    con = server.connect(database)
    try:
        with con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
            cur.execute(f"CREATE TABLE `{table}` ({ddl}) CHARACTER SET utf8mb4")
            sql = f"INSERT INTO `{table}` ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"
            for i in range(0, len(rows), chunk_rows):
                cur.executemany(sql, rows[i:i + chunk_rows])  # PyMySQL batches these into multi-row INSERTs
    finally:
        con.close()
    return time.perf_counter() - t0


if __name__ == "__main__":
    for _ in range(3):
        t0 = time.perf_counter()
        s = start()
        up = time.perf_counter() - t0
        s.stop()
        print(f"install {s.timings['install_s']:.2f} s, start (install+mariadbd+user/db) {up:.2f} s, "
              f"stop+rm {s.timings['stop_s']:.2f} s, total {time.perf_counter() - t0:.2f} s")
        assert not s.root.exists()
