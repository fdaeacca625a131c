"""Supervision and durability seen from outside a real server: gRPC health, metrics,
and the SQLite commit mode."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.waiting import wait_for

from rtcc.core.supervisor import RestartPolicy

NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING


async def test_a_lost_critical_loop_turns_the_target_not_serving_over_grpc_and_in_metrics(
    platform_factory: Any,
) -> None:
    async with platform_factory(targets=["registry", "evidence"]) as p:
        runtime = p.platform.runtime

        async def broken() -> None:
            raise OSError("the spool disk is gone")

        policy = RestartPolicy(initial_backoff_s=0.01, max_backoff_s=0.02, give_up_after=3)
        runtime.supervise("registry-probe", broken, target="registry", critical=True, policy=policy)
        async with p.channel(None) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def status(name: str) -> int:
                request = health_pb2.HealthCheckRequest(service=name)
                return int((await stub.Check(request)).status)

            async def registry_down() -> bool:
                return await status("rtcc.registry.v1.RegistryService") == NOT_SERVING

            await wait_for(registry_down, within_s=10, what="registry NOT_SERVING")
            assert await status("") == NOT_SERVING, "the process as a whole is not ready"
            assert await status("rtcc.evidence.v1.EvidenceService") == SERVING
        url = f"http://127.0.0.1:{p.platform.metrics.port}/metrics"
        async with aiohttp.ClientSession() as http, http.get(url) as reply:
            text = await reply.text()
        failures = next(
            line for line in text.splitlines()
            if line.startswith('rtcc_task_failures_total{task="registry-probe"}')
        )  # fmt: skip
        assert float(failures.split()[-1]) >= 3
        assert 'rtcc_task_running{task="registry-sweep"} 1.0' in text


async def test_sqlite_commits_are_fsynced_before_they_return(platform_factory: Any) -> None:
    async with platform_factory(targets=["registry"]) as p:
        db = p.platform.runtime.db

        # Every pooled connection, not just the first one opened.
        async def mode() -> int:
            async with db.transaction() as conn:
                return int((await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one())

        modes = await asyncio.gather(*(mode() for _ in range(4)))
    assert modes == [2, 2, 2, 2], "2 is FULL"
