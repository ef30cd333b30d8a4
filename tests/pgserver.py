"""A throw-away PostgreSQL server for the team-ledger tests.

Real over fake: the ledger's guarantees (one transaction per admission,
across processes) are PostgreSQL's, so the tests run a real server, started
here in a temporary folder on a free loopback port, with trust
authentication, and stopped at the end. initdb refuses to run as root: as
root, the cluster is owned by the ``postgres`` system user that Debian's
server package creates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN_GLOB = "/usr/lib/postgresql/*/bin"


def server_binaries() -> Path | None:
    """The newest PostgreSQL server binaries on this machine, or None."""
    found = sorted(Path("/").glob(BIN_GLOB.lstrip("/")), key=lambda p: p.parent.name)
    for folder in reversed(found):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@contextmanager
def running_server() -> Iterator[str]:
    """Start a server; yield its URL (user ``postgres``, database ``postgres``)."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    owner = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="llmbudget-pg-"))
    if owner:
        shutil.chown(folder, user=owner)
    data, port = folder / "data", _free_port()
    subprocess.run(
        _as_owner(
            [
                str(binaries / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            owner,
        ),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        _as_owner([*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"], owner),
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_owner([*pg_ctl, "-m", "immediate", "stop"], owner),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)
