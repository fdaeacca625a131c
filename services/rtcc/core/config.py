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

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

TARGETS: tuple[str, ...] = ("registry", "ingest", "analytics", "alerting", "evidence", "playback")


def _check_hostport(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT such as 127.0.0.1:50051, got {value!r}")
    return value


OidcAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class OidcSettings(BaseModel):
    """Sign-in through the city's OpenID Connect provider (see docs/identity.md).

    Access tokens are verified against the provider's JWKS (found through its discovery
    document); the organisation and roles of the caller come from claims, mapped here.
    """

    model_config = ConfigDict(extra="forbid")

    # Issuer URL exactly as in the provider's tokens (`iss`); empty: OIDC is off.
    issuer: str = ""
    # Expected `aud` of access tokens: the API's identifier at the provider.
    audience: str = ""
    # Client id of the console (a public client: authorization code + PKCE S256).
    client_id: str = ""
    # Scopes the console asks for.
    scopes: list[str] = ["openid", "profile"]
    # RFC 8707 resource indicator the console sends (some providers want it to issue
    # JWT access tokens for the audience); empty: none sent.
    resource: str = ""
    # Signature algorithms accepted (asymmetric only: `none` and HMAC are never accepted).
    algorithms: list[OidcAlgorithm] = ["RS256", "ES256"]
    # Claim naming the caller in logs and audit (dots reach into nested claims).
    subject_claim: str = "sub"
    # Claim holding the caller's organisation.
    org_claim: str = "org"
    # Provider organisation value -> platform organisation id. A value missing from
    # the table is used as the id itself when it looks like one (`org_...`).
    org_map: dict[str, str] = {}
    # Claim holding roles or groups: a list, or a space-separated string.
    roles_claim: str = "roles"
    # Provider role or group -> platform roles. Empty: values that are platform role
    # names are taken as they are. The `service` role is never granted by a provider.
    role_map: dict[str, list[str]] = {}
    # Seconds fetched keys are used before they are refreshed in the background.
    jwks_cache_s: float = Field(default=300.0, ge=0)
    # Least seconds between two fetches caused by tokens naming an unknown key.
    jwks_min_refresh_s: float = Field(default=10.0, ge=0)
    # Clock skew tolerated on `exp`/`nbf`/`iat`, in seconds.
    leeway_s: int = Field(default=30, ge=0, le=300)
    # Timeout of one discovery or JWKS fetch, in seconds.
    fetch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # CA bundle that signs the provider's HTTPS certificate (an on-premises provider
    # with the city's own CA); empty: the system's trust store.
    ca_file: Path | None = None

    @field_validator("issuer")
    @classmethod
    def _issuer_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("the issuer must be an http(s) URL such as https://login.city.gov")
        return value

    @field_validator("role_map")
    @classmethod
    def _no_service_role(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from rtcc.core.auth import ROLES  # the role vocabulary lives with the principal

        for group, roles in value.items():
            if "service" in roles:
                raise ValueError(f"{group!r}: the service role is for platform tokens only")
            unknown = sorted(set(roles) - ROLES)
            if unknown:
                raise ValueError(
                    f"{group!r}: unknown roles {unknown}; known: {sorted(ROLES - {'service'})}"
                )
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


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
    # People signing in through the city's identity provider; off unless `issuer` is set.
    oidc: OidcSettings = OidcSettings()
    # Accept platform HS256 tokens naming people (`rtcc token`, the embedded mode). A
    # city that signs people in through `oidc` (and its MFA) sets false: platform
    # tokens then serve service identities only.
    user_tokens: bool = True

    @model_validator(mode="after")
    def _oidc_complete(self) -> AuthSettings:
        if self.oidc.enabled and not self.oidc.audience:
            raise ValueError("auth.oidc.audience is required when auth.oidc.issuer is set")
        if not self.user_tokens and not self.oidc.enabled:
            raise ValueError("auth.user_tokens=false needs auth.oidc: people could not sign in")
        return self


class TlsSettings(BaseModel):
    """TLS for gRPC between services (PEM files; a chart mounts them from Secrets).

    Server side: `cert_file` + `key_file` turn TLS on; `client_ca_file` makes it mutual
    (a client without a certificate signed by that CA is refused). Client side:
    `ca_file` makes calls to peers use TLS; with `client_cert_file` + `client_key_file`
    they present a certificate (mTLS).
    """

    model_config = ConfigDict(extra="forbid")

    # Certificate chain this process's gRPC server presents; empty: plaintext.
    cert_file: Path | None = None
    # Private key of `cert_file`.
    key_file: Path | None = None
    # CA bundle client certificates must chain to; set: mTLS is required.
    client_ca_file: Path | None = None
    # CA bundle this process trusts when it calls peers; set: peers are called over TLS.
    ca_file: Path | None = None
    # Certificate and key presented to peers (mTLS); empty: none presented.
    client_cert_file: Path | None = None
    client_key_file: Path | None = None
    # Name expected in peers' certificates when it differs from the host dialled.
    server_name: str = ""

    @model_validator(mode="after")
    def _pairs(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file go together")
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("tls.client_cert_file and tls.client_key_file go together")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("tls.client_ca_file (mTLS) needs tls.cert_file and tls.key_file")
        if self.client_cert_file is not None and self.ca_file is None:
            raise ValueError("tls.client_cert_file needs tls.ca_file to trust the peers")
        return self


class RegistrySettings(BaseModel):
    """The registry target's settings."""

    model_config = ConfigDict(extra="forbid")

    # Secrets that seal camera stream credentials at rest, newest first: the first seals,
    # every one opens, so a key is rotated by putting a new one in front (and dropping
    # the old one once credentials were set again). Empty: all-in-one creates
    # data_dir/credentials-key; split targets derive one from auth.jwt_secret. Either
    # way credentials sealed by older releases (under auth.jwt_secret) still open.
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


# ingest.segment_seconds' default (also SessionSettings', the planner's and the bench's).
DEFAULT_SEGMENT_SECONDS = 10.0


class IngestSettings(BaseModel):
    """The ingest target's identity among its replicas (see docs/operations.md)."""

    model_config = ConfigDict(extra="forbid")

    # This replica's name in leases. Empty: kept in data_dir (ingest-replica-id), made
    # once from the host name, so a replica restarted on the same data (a StatefulSet
    # pod and its volume, or the all-in-one server) takes its own cameras back at once.
    replica_id: str = Field(default="", max_length=200)
    # gRPC HOST:PORT at which other replicas reach this one (recorded with its leases,
    # used to proxy live streams to a camera's holder). Empty: the bound address. In
    # Kubernetes the pod's name under the headless Service.
    advertise_address: str = ""
    # Recording engine: "pyav" (packets remuxed in the process) or "ffmpeg" (one native
    # ffmpeg child per recorded camera stream writes the segments; see docs/operations.md).
    engine: Literal["pyav", "ffmpeg"] = "pyav"
    # Most cameras this replica records (0: no limit, its fair share). A replica over
    # what its CPU sustains does not record worse, it loses everything: renewals starve,
    # leases expire and sessions churn. Set it from `rtcc plan` (cameras per replica);
    # cameras beyond every replica's limit stay unrecorded and are reported
    # (ingest_over_capacity) until a replica is added.
    max_cameras: int = Field(default=0, ge=0, le=100_000)
    # Target length of a recorded segment, in seconds; it is cut at the first keyframe
    # at or past it. What recording costs beyond ffmpeg's own remux is mostly per
    # segment (hash, fsyncs, spool, store, index row, bus message: ~5 ms of CPU), so
    # longer segments cost less per stream (BENCHMARKS.md "Segment length"): 10 s, as
    # Frigate's default. Shorter ones reach storage and playback sooner (a segment is
    # stored once it closes) and make finer index rows; a crash loses no more with
    # longer ones (the segment in progress is kept up to its last fragment).
    segment_seconds: float = Field(default=DEFAULT_SEGMENT_SECONDS, ge=1.0, le=60.0)

    @field_validator("advertise_address")
    @classmethod
    def _advertised(cls, value: str) -> str:
        return _check_hostport(value) if value else value


class PlaybackSettings(BaseModel):
    """The operator console's map (see docs/console.md)."""

    model_config = ConfigDict(extra="forbid")

    # Basemap tiles for the console's map, an XYZ template such as
    # https://gis.example.city/tiles/{z}/{x}/{y}.png (a city's own GIS tile server).
    # Empty: no tiles; the console draws an offline graticule under the cameras.
    basemap_url: str = ""
    # Attribution shown on the map for those tiles (their licence usually requires it).
    basemap_attribution: str = ""
    # Highest zoom level the tile server has.
    basemap_max_zoom: int = Field(default=19, ge=1, le=24)
    # Where other playback replicas reach this one, to forward calls for the sessions
    # it owns (docs/operations.md): gRPC HOST:PORT (empty: the bound address) and HTTP
    # base URL (empty: public_url). In Kubernetes: the pod's name under the headless
    # Service, never the load-balanced one.
    advertise_address: str = ""
    advertise_url: str = ""

    @field_validator("basemap_url")
    @classmethod
    def _template(cls, value: str) -> str:
        if value and not (
            value.startswith(("http://", "https://", "/")) and "{z}" in value and "{x}" in value
        ):
            raise ValueError("expected an http(s) XYZ tile template with {z}, {x} and {y}")
        return value


class EvidenceSettings(BaseModel):
    """The evidence target: custody signing, retention categories, exports, mail."""

    model_config = ConfigDict(extra="forbid")

    # Ed25519 key (PKCS#8 PEM) that signs custody checkpoints and packages.
    # Empty: created once as data_dir/evidence-signing.pem (mode 0600).
    signing_key_file: str = ""
    # Retention categories: name -> days an item is kept (fractions allowed), or null
    # for indefinitely. A case's category follows its type when the type is a name here.
    retention_days: dict[str, float | None] = {
        "non-evidentiary": 90.0,
        "evidentiary": 3 * 365.0,
        "felony": 10 * 365.0,
        "homicide": None,
    }
    # Category of a case whose type names none.
    default_retention: str = "evidentiary"
    # Clip exports run at the same time per process.
    export_workers: int = Field(default=2, ge=1, le=16)
    # Seconds a running export's worker holds it between progress reports; a job whose
    # worker stopped reporting (crash, restart) is taken up again after this.
    export_lease_s: float = Field(default=30.0, ge=1, le=600)
    # Seconds between retention passes over evidence items.
    retention_every_s: float = Field(default=3600.0, gt=0)
    # Largest uploaded file (bytes), through UploadFile or a partner's upload link.
    max_upload_bytes: int = Field(default=2 * 1024**3, ge=1024)
    # MIME types an upload may have.
    upload_types: list[str] = [
        "video/mp4", "video/quicktime", "video/x-matroska", "video/webm",
        "image/jpeg", "image/png", "application/pdf", "text/plain",
    ]  # fmt: skip
    # SMTP server for share links and partner requests: smtp://host:port. Empty: no
    # mail is sent (the link is still returned to the caller).
    smtp_url: str = ""
    # The From address of that mail.
    mail_from: str = "evidence@openrtcc.local"
    # How long a partner's one-time request link works, in days.
    partner_link_days: float = Field(default=14.0, gt=0, le=90)

    @field_validator("retention_days")
    @classmethod
    def _days(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        if not value or any(d is not None and d <= 0 for d in value.values()):
            raise ValueError("each retention category needs a positive number of days or null")
        return value


class AnalyticsSettings(BaseModel):
    """What the analytics target spends per frame (see docs/analytics.md, "Cost")."""

    model_config = ConfigDict(extra="forbid")

    # Detect objects only inside the motion gate's regions (tiles that keep the whole
    # frame's scale), not on every whole frame.
    region_detection: bool = True
    # Input side (pixels) of the object detector on the whole frame and on one tile.
    input_size: int = Field(default=416, ge=128, le=1024, multiple_of=32)
    tile_input: int = Field(default=128, ge=64, le=416, multiple_of=32)
    # Context added around each motion region on every side, as a share of its size.
    region_padding: float = Field(default=0.5, ge=0, le=4)
    # CPU cost of one tile as a share of a whole-frame detection (measured by
    # bench/analytics_cost.py: small inputs still stream all the weights), and the most
    # the tiles of a frame may cost together; beyond it the whole frame is detected.
    tile_cost: float = Field(default=0.25, gt=0, le=1)
    tile_budget: float = Field(default=0.75, gt=0, le=1)
    # A whole-frame detection at least this often (seconds), so that objects which never
    # moved are found; 0: only when the regions call for it.
    full_frame_every_s: float = Field(default=4.0, ge=0, le=3600)
    # Whole frames for this long after a camera starts, while the motion model learns.
    motion_warmup_s: float = Field(default=0.0, ge=0, le=600)
    # The same while the camera is quiet (nothing moved and nothing is tracked).
    quiet_full_frame_every_s: float = Field(default=30.0, ge=0, le=3600)
    # A tracked object outside every moving region is kept in place (not re-detected)
    # until the next whole-frame refresh plus this many seconds since a detector saw it.
    # Held (motionless) tracks do not keep a camera out of its quiet rate.
    hold_s: float = Field(default=10.0, ge=0, le=3600)
    # A camera with no motion and no tracks for quiet_after_s is analysed at quiet_fps
    # (0: always at the configured rate); any motion brings the configured rate back.
    quiet_fps: float = Field(default=1.0, ge=0, le=60)
    quiet_after_s: float = Field(default=5.0, ge=0, le=3600)
    # Where detectors run: cpu; auto (CUDA, then OpenVINO, when present); cuda; openvino.
    execution_provider: Literal["cpu", "auto", "cuda", "openvino"] = "cpu"
    # What runs the object detector's network: auto (ONNX Runtime when the placement is
    # CUDA, else OpenVINO, else ONNX Runtime, else OpenCV's dnn, the first installed);
    # openvino, onnxruntime or opencv ask for one (falling back the same way).
    object_runtime: Literal["auto", "openvino", "onnxruntime", "opencv"] = "auto"
    # On OpenVINO: auto (the INT8 model `make venv` / the image build quantized, when it
    # is there; else native), int8 (the same, warning when it is missing) or native
    # (bf16 / f32, as the CPU computes best). detectors/quantize.py.
    object_precision: Literal["auto", "int8", "native"] = "auto"
    # Instances of each model per process, shared by all its cameras (one per call that
    # can run at once: about the pod's cores). Memory grows with this, not with cameras.
    model_instances: int = Field(default=2, ge=1, le=64)


class AccessSettings(BaseModel):
    """How services enforce the access policy (see docs/access.md)."""

    model_config = ConfigDict(extra="forbid")

    # Seconds between re-checks of access and token expiry on long-lived streams
    # (events, frames, packets, watch, playback sessions).
    recheck_s: float = Field(default=2.0, gt=0, le=60)
    # Longest a cached access decision is used without asking the registry again;
    # grant and camera changes seen on the registry's watch stream drop it sooner.
    cache_ttl_s: float = Field(default=10.0, gt=0, le=300)
    # Most decisions kept in each process's cache.
    cache_size: int = Field(default=100_000, ge=100, le=10_000_000)
    # Deadline of a call to another service, in seconds (streams excepted).
    call_timeout_s: float = Field(default=5.0, gt=0, le=120)


class AlertSourceSettings(BaseModel):
    """One external system that pushes incidents to alerting (see docs/alerting.md)."""

    model_config = ConfigDict(extra="forbid")

    # The source's name in URLs and alerts, e.g. `shotspotter`: lower case, digits, `-`.
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    # gunshot (ShotSpotter-style XML), cad (NENA EIDO JSON) or detector (plain JSON).
    kind: Literal["gunshot", "cad", "detector"]
    # The organisation whose alerts its reports raise.
    organization_id: str
    # HMAC-SHA256 key the source signs each request with (at least 16 characters).
    secret: SecretStr
    # Correlation: cameras and plate reads within this many metres; 0: the kind's default.
    radius_m: float = Field(default=0.0, ge=0, le=50_000)
    # Plate reads this many seconds around the report; 0: the kind's default.
    window_s: float = Field(default=0.0, ge=0, le=86_400)
    # Earlier alerts within the radius over this many days; 0: the kind's default.
    history_days: float = Field(default=0.0, ge=0, le=3650)
    # A system alert is raised when no heartbeat arrived for this long; 0: none expected.
    heartbeat_timeout_s: float = Field(default=0.0, ge=0, le=86_400)
    # NENA-STA-024 notifier (ws:// or wss://) to subscribe to for EIDOs; empty: POST only.
    subscribe_url: str = ""


class AlertingSettings(BaseModel):
    """The alerting target's settings."""

    model_config = ConfigDict(extra="forbid")

    sources: list[AlertSourceSettings] = []
    # Reports outside [min_lat, min_lon, max_lat, max_lon] are refused; empty: anywhere.
    served_area: list[float] = Field(default=[], max_length=4)
    # Largest clock difference accepted on a signed request, seconds (replay window).
    signature_tolerance_s: float = Field(default=300.0, gt=0, le=3600)
    # Largest source message accepted, bytes.
    max_payload_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Reports processed at once per replica; beyond it senders get 429 + Retry-After.
    max_concurrent_reports: int = Field(default=32, ge=1, le=10_000)
    # An alert not acknowledged within this many seconds escalates (once per period); 0: never.
    escalate_after_s: float = Field(default=120.0, ge=0)
    # Recordings of the correlated cameras held from this long before to after the alert.
    hold_before_s: float = Field(default=600.0, ge=0)
    hold_after_s: float = Field(default=1200.0, ge=0)
    # Cameras whose recordings are held per alert (the best ranked).
    hold_cameras: int = Field(default=5, ge=0, le=100)
    # Alert attributes forming the duplicate key (kind, source, source_event_id, address,
    # cell = ~100 m grid); open alerts with one key are one alert. Empty: no merging.
    merge_key: list[str] = ["kind", "source", "source_event_id"]
    # SMTP server for e-mail channels (HOST:PORT) and the sender address; empty: no e-mail.
    smtp_server: str = ""
    smtp_from: str = "alerts@openrtcc.local"
    # Notification delivery attempts before giving up, with exponential backoff.
    delivery_attempts: int = Field(default=6, ge=1, le=50)
    delivery_backoff_s: float = Field(default=2.0, gt=0, le=3600)
    # Raise an alert when a camera goes offline.
    camera_offline_alerts: bool = True
    # How often the background loops (heartbeats, escalation, hot list schedule) look.
    tick_s: float = Field(default=5.0, gt=0, le=3600)


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
    # HMAC key of the embedded object store's presigned links (its own key, not the
    # token key). Empty: all-in-one creates data_dir/presign-key; split targets derive
    # one from auth.jwt_secret (set it explicitly in a cluster).
    presign_key: SecretStr = SecretStr("")
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
    # TLS / mTLS of gRPC between services; off unless certificate files are named.
    tls: TlsSettings = TlsSettings()
    peers: PeerSettings = PeerSettings()
    registry: RegistrySettings = RegistrySettings()
    ingest: IngestSettings = IngestSettings()
    playback: PlaybackSettings = PlaybackSettings()
    access: AccessSettings = AccessSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()
    evidence: EvidenceSettings = EvidenceSettings()
    alerting: AlertingSettings = AlertingSettings()

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
