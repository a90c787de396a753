"""A PgBouncer in transaction pooling mode as a child process, for tests and benchmarks.

Compose puts PgBouncer between the services and PostgreSQL (README, "Connection
budget"). Tests prove the services work through one by starting Debian's ``pgbouncer``
(``make test`` installs it when missing) on a free port in front of the PostgreSQL they
already use, with a small server pool, so consecutive transactions of one client land
on different server connections as they do in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from shared.net import free_port
from testsupport.infra import port_answers

SEARCH_PATH = ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")


def pgbouncer_binary() -> str | None:
    """Where ``pgbouncer`` is installed (Debian puts it in /usr/sbin, often off PATH)."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path=os.pathsep.join(
        SEARCH_PATH))


class PgBouncer:
    """``pgbouncer`` on a free port, pooling transactions onto ``server_url``'s server.

    Every database of that server is reachable through it under the same name; the user
    of ``server_url`` logs in without a password (the servers here trust loopback).
    """

    def __init__(self, server_url: str, *, pool_size: int = 4,
                 max_client_conn: int = 200) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise FileNotFoundError("pgbouncer is not installed (apt-get install pgbouncer)")
        server = urlsplit(server_url)
        self.user = server.username or "postgres"
        self.port = port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        (self._dir / "userlist.txt").write_text(f'"{self.user}" ""\n')
        (self._dir / "pgbouncer.ini").write_text(f"""\
[databases]
* = host={server.hostname or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {self._dir / "userlist.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_client_conn}
logfile = {self._dir / "pgbouncer.log"}
""")
        argv = [binary, str(self._dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; as root, it can switch to another user.
            os.chmod(self._dir, 0o777)
            argv[1:1] = ["-u", "postgres"]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_listening()

    def _wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not port_answers(f"postgresql://127.0.0.1:{self.port}"):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {self.log()[-2000:]}")
            time.sleep(0.05)

    def url(self, database_url: str) -> str:
        """``database_url`` (a database on the server behind it) reached through PgBouncer."""
        parts = urlsplit(database_url)
        return urlunsplit(parts._replace(netloc=f"{self.user}@127.0.0.1:{self.port}"))

    def log(self) -> str:
        """What PgBouncer logged so far."""
        path = self._dir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop it and remove its files."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
