"""The foundation's promises, over a real gRPC channel to `--target=all`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from rtcc.core.config import TARGETS

ALL_SERVICES = {
    "rtcc.registry.v1.RegistryService",
    "rtcc.ingest.v1.IngestService",
    "rtcc.analytics.v1.AnalyticsService",
    "rtcc.alerting.v1.AlertingService",
    "rtcc.evidence.v1.EvidenceService",
    "rtcc.playback.v1.PlaybackService",
}


async def _reflected_services(channel: grpc.aio.Channel) -> set[str]:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names: set[str] = set()
    async for response in stub.ServerReflectionInfo(iter([request])):
        names.update(s.name for s in response.list_services_response.service)
    return names


async def test_all_target_serves_every_service_healthy_and_reflected(
    platform_factory: Any,
) -> None:
    async with platform_factory(targets=list(TARGETS)) as p:
        async with p.channel(None) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for name in [*ALL_SERVICES, ""]:
                reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
                assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
            reflected = await _reflected_services(channel)
    assert ALL_SERVICES <= reflected
    assert "grpc.health.v1.Health" in reflected


async def _call_evidence(channel: grpc.aio.Channel) -> None:
    """Any method: the auth check runs before the method itself."""
    from rtcc.evidence.v1 import evidence_pb2, evidence_pb2_grpc

    stub = evidence_pb2_grpc.EvidenceServiceStub(channel)
    await stub.ListCases(evidence_pb2.ListCasesRequest(page_size=1))


async def test_call_without_token_is_unauthenticated(platform_factory: Any) -> None:
    async with platform_factory(targets=["evidence"]) as p, p.channel(None) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call_evidence(channel)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "bearer token" in (err.value.details() or "")


@pytest.mark.parametrize(
    "token, expected",
    [
        ("not-a-jwt", "not valid"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA", "not valid"),
    ],
)
async def test_malformed_token_is_unauthenticated(
    platform_factory: Any, token: str, expected: str
) -> None:
    async with platform_factory(targets=["evidence"]) as p, p.channel(token) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call_evidence(channel)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert expected in (err.value.details() or "")


async def test_token_signed_with_another_key_is_unauthenticated(platform_factory: Any) -> None:
    from rtcc.core.auth import mint_token

    forged = mint_token("x" * 40, subject="mallory", org_id="org_a", roles=["platform-admin"])
    async with platform_factory(targets=["evidence"]) as p, p.channel(forged) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _call_evidence(channel)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_unimplemented_service_answers_unimplemented_after_auth(
    platform_factory: Any,
) -> None:
    # Every target is built now: a service this process does not serve stands in.
    from rtcc.alerting.v1 import alerting_pb2, alerting_pb2_grpc

    async with platform_factory(targets=["evidence"]) as p:
        token = p.token("org_platform", ["platform-admin"])
        async with p.channel(token) as channel:
            stub = alerting_pb2_grpc.AlertingServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListAlerts(alerting_pb2.ListAlertsRequest())
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_metrics_endpoint_counts_calls(platform_factory: Any) -> None:
    import aiohttp

    async with platform_factory(targets=["evidence"]) as p:
        async with p.channel(None) as channel:
            with pytest.raises(grpc.aio.AioRpcError):
                await _call_evidence(channel)
        assert p.platform.metrics is not None
        url = f"http://127.0.0.1:{p.platform.metrics.port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            body = await response.text()
    assert 'rtcc_grpc_calls_total{code="UNAUTHENTICATED"' in body


async def test_health_reports_not_serving_while_draining(platform_factory: Any) -> None:
    async with platform_factory(targets=["evidence"]) as p:
        async with p.channel(None) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            await p.platform.health.enter_graceful_shutdown()
            reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING


async def test_oversized_request_is_refused_with_resource_exhausted(
    platform_factory: Any,
) -> None:
    from rtcc.evidence.v1 import evidence_pb2, evidence_pb2_grpc

    async with platform_factory(targets=["evidence"], max_message_bytes=4096) as p:
        token = p.token("org_platform", ["investigator"])
        async with p.channel(token) as channel:
            stub = evidence_pb2_grpc.EvidenceServiceStub(channel)
            request = evidence_pb2.ListCasesRequest(text="x" * 10_000)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.ListCases(request)
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_channel_token_reaches_server_streaming_calls(platform_factory: Any) -> None:
    from rtcc.evidence.v1 import evidence_pb2, evidence_pb2_grpc

    async with platform_factory(targets=["evidence"]) as p:
        token = p.token("org_platform", ["investigator"])
        async with p.channel(token) as channel:
            stub = evidence_pb2_grpc.EvidenceServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                async for _ in stub.DownloadItem(evidence_pb2.DownloadItemRequest()):
                    pass
    # Authenticated (not UNAUTHENTICATED): the method itself answers, refusing the input.
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_presigned_links_of_embedded_store_name_the_bound_port(
    platform_factory: Any,
) -> None:
    import aiohttp

    async with platform_factory(targets=["evidence"]) as p:
        objects = p.platform.runtime.objects
        await objects.ensure_bucket("probe")
        await objects.put("probe", "a/b.txt", b"hello", content_type="text/plain")
        url = await objects.presign_get("probe", "a/b.txt", timedelta(minutes=1))
        assert p.platform.http is not None
        assert f":{p.platform.http.port}/" in url
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as response:
                assert response.status == 200
                assert await response.read() == b"hello"
            async with http.get(url.replace("signature=", "signature=0")) as response:
                assert response.status == 403
