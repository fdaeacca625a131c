"""`rtcc` as a person runs it: bad settings and unreachable backends end clearly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rtcc(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "RTCC_DATA_DIR": str(tmp_path), **env}
    return subprocess.run(
        [sys.executable, "-m", "rtcc.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_database_stops_serve_fast_naming_host_not_password(tmp_path: Path) -> None:
    port = _closed_port()
    started = time.monotonic()
    result = _rtcc(
        tmp_path,
        "serve",
        RTCC_DATABASE_URL=f"postgresql://rtcc:hunter2@127.0.0.1:{port}/rtcc",
        RTCC_GRPC_LISTEN="127.0.0.1:0",
        RTCC_HTTP_LISTEN="127.0.0.1:0",
        RTCC_METRICS_LISTEN="127.0.0.1:0",
    )
    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert time.monotonic() - started < 30


def test_bad_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = _rtcc(tmp_path, "serve", RTCC_DRAIN_GRACE_S="-1")
    assert result.returncode == 2
    assert "RTCC_DRAIN_GRACE_S" in result.stderr


def test_token_command_mints_a_token_the_server_accepts(tmp_path: Path) -> None:
    from rtcc.core.auth import TokenAuthority

    secret = "k" * 40
    result = _rtcc(
        tmp_path,
        "token",
        "--subject",
        "ana",
        "--org",
        "org_pd",
        "--role",
        "operator",
        RTCC_AUTH__JWT_SECRET=secret,
    )
    assert result.returncode == 0, result.stderr
    principal = TokenAuthority(secret).verify(result.stdout.strip())
    assert (principal.subject, principal.org_id) == ("ana", "org_pd")
