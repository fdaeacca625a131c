"""Secrets never reach a log line."""

from __future__ import annotations

import json

import pytest
import structlog

from rtcc.core.logging import configure_logging, mask_url


def test_url_password_is_masked() -> None:
    assert (
        mask_url("postgresql://rtcc:hunter2@db:5432/rtcc") == "postgresql://rtcc:***@db:5432/rtcc"
    )
    assert mask_url("rtsp://admin:p%40ss@10.0.0.5/stream") == "rtsp://admin:***@10.0.0.5/stream"


def test_json_log_redacts_secret_keys_and_urls(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info")
    structlog.get_logger().info(
        "connected", url="rtsp://cam:topsecret@1.2.3.4/live", password="hunter2", camera_id="c1"
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert "topsecret" not in line and "hunter2" not in line
    assert record["camera_id"] == "c1"
    assert record["event"] == "connected"
