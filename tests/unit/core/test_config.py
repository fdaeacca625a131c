"""Settings: defaults a user can rely on, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from rtcc.cli import _explain, main
from rtcc.core.config import Settings, load_settings


def test_defaults_bind_loopback_ports_of_the_brief() -> None:
    settings = Settings()
    assert settings.grpc_listen == "127.0.0.1:50051"
    assert settings.http_listen == "127.0.0.1:8080"
    assert settings.metrics_listen == "127.0.0.1:9100"
    assert settings.bus_url == "memory://"
    assert settings.resolved_database_url().startswith("sqlite:///")
    assert settings.resolved_object_store_url().startswith("file:///")


def test_segment_length_defaults_to_10_s_and_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTCC_INGEST__SEGMENT_SECONDS", raising=False)  # tests set 4 s
    assert Settings().ingest.segment_seconds == 10.0
    monkeypatch.setenv("RTCC_INGEST__SEGMENT_SECONDS", "6")
    assert Settings().ingest.segment_seconds == 6.0
    for wrong in ("0.5", "61", "ten"):
        monkeypatch.setenv("RTCC_INGEST__SEGMENT_SECONDS", wrong)
        with pytest.raises(ValidationError) as err:
            Settings()
        assert "RTCC_INGEST__SEGMENT_SECONDS" in _explain(err.value)


def test_environment_overrides_nested_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTCC_GRPC_LISTEN", "0.0.0.0:6000")
    monkeypatch.setenv("RTCC_PEERS__REGISTRY", "rtcc-registry:50051")
    settings = Settings()
    assert settings.grpc_listen == "0.0.0.0:6000"
    assert settings.peers.registry == "rtcc-registry:50051"


def test_environment_wins_over_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "rtcc.yaml"
    config.write_text("grpc_listen: 127.0.0.1:7000\nlog_level: debug\n")
    monkeypatch.setenv("RTCC_GRPC_LISTEN", "127.0.0.1:7001")
    settings = load_settings(config)
    assert settings.grpc_listen == "127.0.0.1:7001"
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    "env, value, named",
    [
        ("RTCC_GRPC_LISTEN", "localhost", "RTCC_GRPC_LISTEN"),
        ("RTCC_BUS_URL", "kafka://x", "RTCC_BUS_URL"),
        ("RTCC_LOG_FORMAT", "xml", "RTCC_LOG_FORMAT"),
        ("RTCC_PEERS__INGEST", "nohost", "RTCC_PEERS"),
        ("RTCC_NO_SUCH_SETTING", "1", None),
    ],
)
def test_bad_value_is_explained_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, named: str | None
) -> None:
    monkeypatch.setenv(env, value)
    if named is None:
        # Unknown RTCC_ variables are ignored by the environment source: a typo in an
        # unrelated variable must not stop the platform. Unknown keys in a file fail.
        Settings()
        return
    with pytest.raises(ValidationError) as err:
        Settings()
    assert named in _explain(err.value)


def test_unknown_key_in_config_file_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "rtcc.json"
    config.write_text('{"grpc_listn": "127.0.0.1:1"}')
    with pytest.raises(ValidationError) as err:
        load_settings(config)
    assert "GRPC_LISTN" in _explain(err.value)


def test_cli_exits_2_with_the_setting_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RTCC_METRICS_LISTEN", "nope")
    assert main(["token", "--role", "operator"]) == 2
    assert "RTCC_METRICS_LISTEN" in capsys.readouterr().err


def test_cli_rejects_unknown_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RTCC_DATA_DIR", str(tmp_path))
    assert main(["serve", "--target", "regsitry"]) == 2
    assert "unknown target" in capsys.readouterr().err


def test_credentials_keys_come_from_a_json_list_and_never_print(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "RTCC_REGISTRY__CREDENTIALS_KEYS", '["new-key-0123456789", "old-key-0123456789"]'
    )
    settings = Settings()
    keys = [k.get_secret_value() for k in settings.registry.credentials_keys]
    assert keys == ["new-key-0123456789", "old-key-0123456789"]
    assert "new-key" not in repr(settings)
    monkeypatch.setenv("RTCC_REGISTRY__CREDENTIALS_KEYS", '["short"]')
    with pytest.raises(ValidationError) as err:
        Settings()
    assert "RTCC_REGISTRY__CREDENTIALS_KEYS" in _explain(err.value)
