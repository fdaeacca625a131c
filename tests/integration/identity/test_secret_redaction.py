"""No password of a database, object store or bus URL in any log line or error
message: `rtcc serve` is started (a real process) with URLs carrying a known password
that cannot work, and everything it prints is searched for that password."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "Kn0wn-Pa55word-7731"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "RTCC_DATA_DIR": str(tmp_path),
        "RTCC_GRPC_LISTEN": "127.0.0.1:0",
        "RTCC_HTTP_LISTEN": "127.0.0.1:0",
        "RTCC_METRICS_LISTEN": "127.0.0.1:0",
        "RTCC_LOG_FORMAT": "json",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "rtcc.cli", "serve", "--target=all"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "env",
    [
        pytest.param(
            {"RTCC_DATABASE_URL": f"postgresql://rtcc:{PASSWORD}@127.0.0.1:{closed_port()}/rtcc"},
            id="database-unreachable",
        ),
        pytest.param(
            {"RTCC_DATABASE_URL": f"postgresql://rtcc:{PASSWORD}@127.0.0.1:port/rtcc"},
            id="database-malformed",
        ),
        pytest.param(
            # Unencoded "@" and "/" in the password: the URL is malformed.
            {"RTCC_DATABASE_URL": f"postgresql://rtcc:a@b/{PASSWORD}@127.0.0.1:1/x"},
            id="database-special-characters",
        ),
        pytest.param(
            {"RTCC_OBJECT_STORE_URL": f"s3://rtccadmin:{PASSWORD}@/bucket"},
            id="object-store-no-host",
        ),
        pytest.param(
            {"RTCC_OBJECT_STORE_URL": f"s3://rtccadmin:a/{PASSWORD}@127.0.0.1:1?secure=false"},
            id="object-store-special-characters",
        ),
        pytest.param(
            {"RTCC_BUS_URL": f"nats://rtcc:{PASSWORD}@127.0.0.1:{closed_port()}"},
            id="bus-unreachable",
        ),
    ],
)
def test_start_up_failure_never_prints_the_password(tmp_path: Path, env: dict[str, str]) -> None:
    result = serve(tmp_path, **env)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output  # it did fail to start...
    assert "error" in output.lower()  # ...and said so...
    assert PASSWORD not in output  # ...without the password
