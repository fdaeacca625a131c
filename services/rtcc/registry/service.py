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


def credentials_secrets(runtime: Runtime) -> list[bytes]:
    """The secrets stream credentials are sealed under, newest first.

    Those the server loaded (``registry.credentials_keys``, else its own generated or
    derived key; see :mod:`rtcc.core.keys`), then the legacy token key as an opener.
    Hand-built runtimes fall back to the settings or the platform secret.
    """
    if runtime.credentials_keys:  # a started server: see rtcc.core.keys
        return list(runtime.credentials_keys)
    keys = [k.get_secret_value().encode() for k in runtime.settings.registry.credentials_keys]
    if keys:
        return keys
    secret = runtime.signing_key or runtime.settings.auth.jwt_secret.get_secret_value().encode()
    if len(secret) < 16:  # only in hand-built runtimes; never with a real server
        secret = hashlib.sha256(b"rtcc-registry" + secret).digest()
    return [secret]


def build_context(runtime: Runtime) -> RegistryContext:
    feed = ChangeFeed(runtime.db, notify=worker.bus_notifier(runtime.bus))
    return RegistryContext(
        runtime.db, feed, CameraStore(CredentialBox(*credentials_secrets(runtime)))
    )


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    """Serve RegistryService and start the registry's background loops."""
    ctx = build_context(runtime)
    await ctx.feed.current()
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(RegistryServicer(ctx), server)
    # Supervised (core/supervisor.py): a loop that raises is logged, counted, restarted.
    runtime.supervise(
        "registry-revision-poll", lambda: worker.poll_revisions(ctx), target="registry"
    )
    runtime.supervise(
        "registry-bus-follow", lambda: worker.follow_bus(ctx, runtime.bus), target="registry"
    )
    runtime.supervise("registry-sweep", lambda: worker.sweep(ctx), target="registry")
    return [SERVICE_NAME]
