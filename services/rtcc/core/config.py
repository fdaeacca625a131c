"""The one typed configuration of OpenRTCC.

Every setting has a default a laptop user can rely on and a documented environment
variable (prefix ``RTCC_``, nested fields joined with ``__``, e.g.
``RTCC_AUTH__JWT_SECRET``). A YAML/JSON file can be given with ``--config``; the
environment overrides it. Nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

TARGETS: tuple[str, ...] = ("registry", "ingest", "analytics", "alerting", "evidence", "playback")


def _check_hostport(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:50051, got {value!r}")
    return value


class AuthSettings(BaseModel):
    """How callers prove who they are."""

    model_config = ConfigDict(extra="forbid")

    # HMAC key for HS256 tokens. Empty: all-in-one mode creates one in data_dir.
    jwt_secret: SecretStr = SecretStr("")
    # Expected `iss` and `aud` claims.
    issuer: str = "openrtcc"
    audience: str = "rtcc"
    # Lifetime of tokens minted for service-to-service calls.
    service_token_ttl_s: int = Field(default=3600, ge=60)


class RegistrySettings(BaseModel):
    """The registry target's settings."""

    model_config = ConfigDict(extra="forbid")

    # Secrets that seal camera stream credentials at rest, newest first: the first seals,
    # every one opens, so a key is rotated by putting a new one in front (and dropping
    # the old one once credentials were set again). Empty: derived from auth.jwt_secret.
    credentials_keys: list[SecretStr] = []

    @field_validator("credentials_keys")
    @classmethod
    def _long_enough(cls, keys: list[SecretStr]) -> list[SecretStr]:
        if any(len(k.get_secret_value()) < 16 for k in keys):
            raise ValueError("each credentials key needs at least 16 characters")
        return keys


class PeerSettings(BaseModel):
    """Where each target's gRPC API is reached. Empty: this process (``--target=all``)."""

    model_config = ConfigDict(extra="forbid")

    registry: str = ""
    ingest: str = ""
    analytics: str = ""
    alerting: str = ""
    evidence: str = ""
    playback: str = ""


class Settings(BaseSettings):
    """All settings of an OpenRTCC process."""

    model_config = SettingsConfigDict(
        env_prefix="RTCC_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    # gRPC listen address; every service of the process shares it.
    grpc_listen: str = "127.0.0.1:50051"
    # HTTP listen address (console, WHEP, JSON API, presigned object downloads).
    http_listen: str = "127.0.0.1:8080"
    # Prometheus metrics listen address (`/metrics`).
    metrics_listen: str = "127.0.0.1:9100"
    # Base URL that browsers use to reach the HTTP listener; empty: derived from http_listen.
    public_url: str = ""
    # Directory for embedded backends and local spool.
    data_dir: Path = Path("var")
    # sqlite:///path.db or postgresql://user:password@host:5432/db; empty: SQLite in data_dir.
    database_url: SecretStr = SecretStr("")
    # file:///abs/dir or s3://KEY:SECRET@host:port?secure=false; empty: directory in data_dir.
    object_store_url: SecretStr = SecretStr("")
    # memory:// or nats://host:4222.
    bus_url: str = "memory://"
    # Log rendering: json in production, console for people at a terminal.
    log_format: Literal["json", "console"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Seconds to let in-flight calls finish after SIGTERM.
    drain_grace_s: float = Field(default=10.0, ge=0, le=300)
    # Largest request or response message in bytes.
    max_message_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    auth: AuthSettings = AuthSettings()
    peers: PeerSettings = PeerSettings()
    registry: RegistrySettings = RegistrySettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over the config file (passed as init values).
        return (env_settings, init_settings, file_secret_settings)

    @field_validator("grpc_listen", "http_listen", "metrics_listen")
    @classmethod
    def _hostport(cls, value: str) -> str:
        return _check_hostport(value)

    @field_validator("bus_url")
    @classmethod
    def _bus(cls, value: str) -> str:
        if not value.startswith(("memory://", "nats://", "tls://")):
            raise ValueError("expected memory:// or nats://HOST:PORT")
        return value

    @field_validator("peers")
    @classmethod
    def _peers(cls, value: PeerSettings) -> PeerSettings:
        for name in TARGETS:
            address = getattr(value, name)
            if address:
                _check_hostport(address)
        return value

    def resolved_database_url(self) -> str:
        url = self.database_url.get_secret_value()
        return url or f"sqlite:///{(self.data_dir / 'rtcc.db').resolve()}"

    def resolved_object_store_url(self) -> str:
        url = self.object_store_url.get_secret_value()
        return url or f"file://{(self.data_dir / 'objects').resolve()}"

    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host, _, port = self.http_listen.rpartition(":")
        host = "127.0.0.1" if host in ("0.0.0.0", "::", "[::]") else host
        return f"http://{host}:{port}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional JSON/YAML file, the environment and overrides.

    Raises ``pydantic.ValidationError`` naming every bad setting.
    """
    values: dict[str, Any] = {}
    if config_file is not None:
        text = config_file.read_text()
        if config_file.suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    values.update(overrides)
    return Settings(**values)
