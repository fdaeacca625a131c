"""HTTP listeners: the platform's HTTP port (console, WHEP, JSON API, presigned
downloads from the embedded object store) and the Prometheus metrics port."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from rtcc.backends.objectstore import verify_presigned
from rtcc.core.calls import request_id_from, reset_request_id, set_request_id
from rtcc.core.config import Settings
from rtcc.core.errors import NotFound, PermissionDenied, RtccError
from rtcc.core.runtime import Runtime

RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime", Runtime)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


class _Site:
    def __init__(self, app: web.Application, address: str) -> None:
        self._app = app
        self._address = address
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        host, port = _split(self._address)
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class HttpListener(_Site):
    """The platform's HTTP port. Services add their routes to ``runtime.http_routes``."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        app = web.Application(client_max_size=settings.max_message_bytes, middlewares=[_request_id])
        app[RUNTIME] = runtime
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/objects/{bucket}/{key:.+}", _presigned_object)
        for method, path, handler in runtime.http_routes:
            app.router.add_route(method, path, handler)
        super().__init__(app, settings.http_listen)


@web.middleware
async def _request_id(request: web.Request, handler: Any) -> web.StreamResponse:
    """Give each HTTP request an id (the client's X-Request-Id if acceptable), for the
    audit log and logs, and echo it back."""
    request_id = request_id_from(request.headers.get("X-Request-Id"))
    token = set_request_id(request_id)
    try:
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response: web.StreamResponse = await handler(request)
    finally:
        reset_request_id(token)
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _presigned_object(request: web.Request) -> web.StreamResponse:
    """Serve an object of the embedded (file) store to the holder of a presigned URL."""
    runtime = request.app[RUNTIME]
    bucket, key = request.match_info["bucket"], request.match_info["key"]
    expires = request.query.get("expires", "")
    signature = request.query.get("signature", "")
    secret = runtime.authority_secret()
    try:
        verify_presigned(secret, bucket, key, expires, signature, datetime.now(UTC))
    except PermissionDenied as exc:
        raise web.HTTPForbidden(text=exc.message) from None
    try:
        info = await runtime.objects.stat(bucket, key)
        data = await runtime.objects.get(bucket, key)
    except NotFound:
        raise web.HTTPNotFound(text="no such object") from None
    except RtccError as exc:
        raise web.HTTPServiceUnavailable(text=exc.message) from None
    return web.Response(body=data, content_type=info.content_type)


class MetricsListener(_Site):
    """Serves ``/metrics`` in the Prometheus text format from one registry."""

    def __init__(self, address: str, registry: CollectorRegistry) -> None:
        async def metrics(_: web.Request) -> web.Response:
            body = generate_latest(registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        super().__init__(app, address)
