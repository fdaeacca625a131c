"""Cost of the platform's gRPC plumbing per call.

Measures unary calls through the full interceptor chain (request id, JWT verify,
error mapping, metrics) against the anchor of a plain grpc.health.v1 Check on the
same server (which skips authentication), over a real loopback channel.

    .venv/bin/python bench/core_grpc.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rtcc.core.clients import open_channel
from rtcc.core.config import Settings
from rtcc.core.server import start_platform
from rtcc.evidence.v1 import evidence_pb2, evidence_pb2_grpc


async def _measure(call: Callable[[], Awaitable[object]], n: int) -> list[float]:
    for _ in range(min(200, n)):
        await call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _row(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    rate = 1000 / statistics.mean(samples)
    return f"| {name:<44} | {q[49]:7.3f} | {q[98]:7.3f} | {rate:8.0f} |"


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            grpc_listen="127.0.0.1:0",
            http_listen="127.0.0.1:0",
            metrics_listen="127.0.0.1:0",
            data_dir=Path(tmp),
            auth={"jwt_secret": secrets.token_urlsafe(40)},
        )
        platform = await start_platform(settings, ["evidence"], with_http=False)
        token = platform.token(subject="bench", org_id="org_b", roles=["investigator"])
        async with (
            open_channel(platform.grpc_address) as plain,
            open_channel(platform.grpc_address, lambda: token) as authed,
        ):
            health = health_pb2_grpc.HealthStub(plain)
            evidence = evidence_pb2_grpc.EvidenceServiceStub(authed)

            async def health_check() -> object:
                return await health.Check(health_pb2.HealthCheckRequest())

            async def authed_call() -> object:
                try:
                    return await evidence.ListCases(evidence_pb2.ListCasesRequest())
                except grpc.aio.AioRpcError as err:
                    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
                    return None

            anchor = await _measure(health_check, calls)
            full = await _measure(authed_call, calls)
        await platform.stop(grace=0)
    print(f"| {'unary call, sequential, loopback':<44} | p50 ms  | p99 ms  | calls/s  |")
    print(f"|{'-' * 46}|---------|---------|----------|")
    print(_row("health Check (anchor: no auth, no interceptor work)", anchor))
    print(_row("authenticated call through the interceptor", full))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    asyncio.run(main(parser.parse_args().calls))
