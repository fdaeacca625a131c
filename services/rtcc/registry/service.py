"""The ``registry`` target: the RegistryService servicer and its start-up.

The servicer is thin: each RPC group (organisations, cameras, discovery, grants,
inventory) authorises the caller, validates the request, and calls the domain and the
stores; errors are ``rtcc.core.errors`` exceptions mapped to status by the interceptor.
"""

from __future__ import annotations

import hashlib

import grpc

from rtcc.core.runtime import Runtime
from rtcc.registry import worker
from rtcc.registry.camera_store import CameraStore
from rtcc.registry.change_log import ChangeFeed
from rtcc.registry.context import RegistryContext
from rtcc.registry.credentials import CredentialBox
from rtcc.registry.rpc_cameras import CameraRpcs
from rtcc.registry.rpc_discovery import DiscoveryRpcs
from rtcc.registry.rpc_grants import GrantRpcs
from rtcc.registry.rpc_inventory import InventoryRpcs
from rtcc.registry.rpc_organizations import OrganizationRpcs
from rtcc.registry.v1 import registry_pb2, registry_pb2_grpc

SERVICE_NAME = registry_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name


class RegistryServicer(
    OrganizationRpcs,
    CameraRpcs,
    DiscoveryRpcs,
    GrantRpcs,
    InventoryRpcs,
    registry_pb2_grpc.RegistryServiceServicer,
):
    """rtcc.registry.v1.RegistryService over a :class:`RegistryContext`."""

    def __init__(self, ctx: RegistryContext) -> None:
        self.ctx = ctx


def credentials_secret(runtime: Runtime) -> bytes:
    """The secret stream credentials are sealed under: the platform's signing secret.

    Rotating ``auth.jwt_secret`` therefore makes stored credentials unreadable (ingest
    gets FAILED_PRECONDITION saying so) until they are set again.
    """
    secret = runtime.signing_key or runtime.settings.auth.jwt_secret.get_secret_value().encode()
    if len(secret) < 16:  # only in hand-built runtimes; never with a real server
        secret = hashlib.sha256(b"rtcc-registry" + secret).digest()
    return secret


def build_context(runtime: Runtime) -> RegistryContext:
    feed = ChangeFeed(runtime.db, notify=worker.bus_notifier(runtime.bus))
    return RegistryContext(
        runtime.db, feed, CameraStore(CredentialBox(credentials_secret(runtime)))
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve RegistryService and start the registry's background loops."""
    ctx = build_context(runtime)
    await ctx.feed.current()
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(ctx), server)
    runtime.spawn(worker.poll_revisions(ctx), name="registry-revision-poll")
    runtime.spawn(worker.follow_bus(ctx, runtime.bus), name="registry-bus-follow")
    runtime.spawn(worker.sweep(ctx), name="registry-sweep")
    return [SERVICE_NAME]
