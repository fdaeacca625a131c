"""A running OpenRTCC process: gRPC server, HTTP listener, metrics, backends.

``start_platform(settings, targets)`` is what `rtcc serve` runs and what tests use
(with ports set to 0) to get a real server on a real channel.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import CollectorRegistry

from rtcc.backends.bus import open_bus
from rtcc.backends.database import open_database
from rtcc.backends.objectstore import open_object_store
from rtcc.core.auth import TokenAuthority
from rtcc.core.config import TARGETS, Settings
from rtcc.core.errors import Unavailable
from rtcc.core.http import HttpListener, MetricsListener
from rtcc.core.interceptors import CallMetrics, ServerInterceptor
from rtcc.core.keys import load_keys, token_signing_key
from rtcc.core.oidc import OidcVerifier
from rtcc.core.runtime import Runtime
from rtcc.core.targets import setup_functions
from rtcc.core.tls import server_credentials

log = structlog.get_logger("rtcc.server")


@dataclass
class Platform:
    """Handles of a started process, for `rtcc serve` and for tests."""

    settings: Settings
    runtime: Runtime
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    grpc_address: str
    http: HttpListener | None
    metrics: MetricsListener | None
    services: list[str] = field(default_factory=list)

    def token(self, *, subject: str, org_id: str, roles: list[str]) -> str:
        return self.runtime.authority.mint(subject=subject, org_id=org_id, roles=roles)

    async def stop(self, grace: float | None = None) -> None:
        """Drain: report NOT_SERVING, let in-flight calls finish, then close everything."""
        grace = self.settings.drain_grace_s if grace is None else grace
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self.http is not None:
            await self.http.stop()
        if self.metrics is not None:
            await self.metrics.stop()
        await self.runtime.close()


def jwt_secret(settings: Settings) -> str:
    """The token signing key (``auth.jwt_secret``, else data_dir/jwt-secret)."""
    return token_signing_key(settings)


def build_authority(settings: Settings) -> TokenAuthority:
    """The verifier of every call: platform tokens, and the provider's when configured."""
    oidc = OidcVerifier(settings.auth.oidc) if settings.auth.oidc.enabled else None
    return TokenAuthority(
        jwt_secret(settings),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        oidc=oidc,
        user_tokens=settings.auth.user_tokens,
    )


async def open_runtime(settings: Settings, targets: list[str] | None = None) -> Runtime:
    """Open the three backends named by the settings and migrate the database.

    ``targets`` None or all of them: all-in-one mode (unset keys get their own files).
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = load_keys(settings, all_in_one=targets is None or set(TARGETS) <= set(targets))
    authority = build_authority(settings)
    db = await open_database(settings.resolved_database_url())
    try:
        await db.migrate()
        objects = open_object_store(
            settings.resolved_object_store_url(),
            signing_key=keys.presigned_links,
            public_base_url=settings.resolved_public_url(),
        )
        try:
            bus = await open_bus(settings.bus_url)
        except BaseException:
            await objects.close()
            raise
    except BaseException:
        await db.close()
        raise
    return Runtime(
        settings=settings,
        db=db,
        objects=objects,
        bus=bus,
        authority=authority,
        signing_key=keys.presigned_links,
        credentials_keys=keys.credentials,
    )


async def start_platform(
    settings: Settings, targets: list[str], *, with_http: bool = True, with_metrics: bool = True
) -> Platform:
    """Start the given targets in this process and return once they serve."""
    runtime = await open_runtime(settings, targets)
    runtime.local_targets = frozenset(targets)
    registry = CollectorRegistry()
    registry.register(runtime.supervisor.collector())
    server = grpc.aio.server(
        interceptors=[ServerInterceptor(runtime.authority, CallMetrics(registry))],
        options=[
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ],
    )
    try:
        credentials = server_credentials(settings.tls)
    except ValueError:
        await runtime.close()
        raise
    if credentials is None:
        port = server.add_insecure_port(settings.grpc_listen)
    else:
        port = server.add_secure_port(settings.grpc_listen, credentials)
    if port == 0:
        await runtime.close()
        raise OSError(f"cannot listen for gRPC on {settings.grpc_listen} (address in use?)")
    host = settings.grpc_listen.rpartition(":")[0]
    runtime.self_address = f"{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{port}"
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services: list[str] = []
    by_target: dict[str, list[str]] = {}
    try:
        for _target, setup in setup_functions(targets):
            by_target[_target] = await setup(runtime, server)
            services.extend(by_target[_target])
        reflection.enable_server_reflection(
            [*services, health.SERVICE_NAME, reflection.SERVICE_NAME], server
        )
        await server.start()
        http = await _start_http(settings, runtime, with_http)
        metrics = await _start_metrics(settings, registry, with_metrics)
    except BaseException:
        await server.stop(0)
        await runtime.close()
        raise
    serving = health_pb2.HealthCheckResponse.SERVING
    for name in [*services, ""]:
        await health_servicer.set(name, serving)
    # From now on a critical background loop that cannot recover turns its target
    # NOT_SERVING (core/supervisor.py).
    await runtime.supervisor.attach_health(health_servicer, by_target)
    if runtime.authority.oidc is not None:
        runtime.spawn(_warm_oidc(runtime.authority.oidc), name="oidc-warm-up")
    log.info("serving", targets=targets, grpc=runtime.self_address, services=len(services))
    return Platform(
        settings, runtime, server, health_servicer, runtime.self_address, http, metrics, services
    )


async def _warm_oidc(verifier: OidcVerifier) -> None:
    """Fetch the provider's keys once at start-up, so the first sign-in does not wait.
    A provider that is down now is asked again by the first call that needs it."""
    try:
        await verifier.refresh()
    except Unavailable as exc:
        log.warning("oidc_provider_unreachable", issuer=verifier.issuer, reason=exc.message)


async def _start_http(settings: Settings, runtime: Runtime, enabled: bool) -> HttpListener | None:
    if not enabled:
        return None
    listener = HttpListener(settings, runtime)
    await listener.start()
    runtime.shared["http_port"] = listener.port  # the bound port, for links services mail
    if not settings.public_url and hasattr(runtime.objects, "public_base_url"):
        # Port 0 (tests) or 0.0.0.0: presigned links of the embedded store must name
        # the port actually bound.
        host = settings.resolved_public_url().rsplit(":", 1)[0]
        runtime.objects.public_base_url = f"{host}:{listener.port}"
    return listener


async def _start_metrics(
    settings: Settings, registry: CollectorRegistry, enabled: bool
) -> MetricsListener | None:
    if not enabled:
        return None
    listener = MetricsListener(settings.metrics_listen, registry)
    await listener.start()
    return listener


async def serve_forever(platform: Platform, stop: asyncio.Event) -> Any:
    """Block until `stop` is set (SIGTERM/SIGINT), then drain."""
    await stop.wait()
    log.info("draining", grace_s=platform.settings.drain_grace_s)
    await platform.stop()
    log.info("stopped")
