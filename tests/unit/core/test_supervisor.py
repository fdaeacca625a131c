"""The supervisor: failed loops come back with backoff, are counted, and a critical
loop that cannot recover turns its target's health NOT_SERVING."""

from __future__ import annotations

import asyncio
import random

import pytest
from grpc_health.v1 import health, health_pb2
from prometheus_client import CollectorRegistry, generate_latest
from tests.waiting import wait_for

from rtcc.core.supervisor import RestartPolicy, Supervisor, backoff_delay

FAST = RestartPolicy(initial_backoff_s=0.01, max_backoff_s=0.05, give_up_after=3)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def _status(servicer: health.aio.HealthServicer, name: str) -> int:
    # The servicer's own table: what Check answers for `name`.
    return servicer._server_status[name]  # type: ignore[attr-defined, no-any-return]


def test_backoff_grows_to_its_ceiling_with_jitter_in_the_upper_half() -> None:
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 8.0, rng) for n in range(8)]
    assert 0.25 <= delays[0] <= 0.5
    assert all(4.0 <= d <= 8.0 for d in delays[4:])
    assert len({round(d, 6) for d in delays[4:]}) > 1, "jitter spreads restarts"


async def test_a_failing_loop_is_restarted_and_counted_until_it_runs() -> None:
    supervisor = Supervisor()
    attempts: list[int] = []
    ran = asyncio.Event()

    async def loop() -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError(f"bug number {len(attempts)}")
        ran.set()
        await asyncio.Event().wait()

    entry = supervisor.start("uploader", loop, target="ingest", policy=FAST)
    await asyncio.wait_for(ran.wait(), 5)
    assert (entry.failures, entry.restarts) == (2, 2)
    assert entry.last_error == "RuntimeError: bug number 2"
    registry = CollectorRegistry()
    registry.register(supervisor.collector())
    text = generate_latest(registry).decode()
    assert 'rtcc_task_failures_total{task="uploader"} 2.0' in text
    assert 'rtcc_task_restarts_total{task="uploader"} 2.0' in text
    assert 'rtcc_task_running{task="uploader"} 1.0' in text
    await supervisor.stop()
    assert entry.done()


async def test_a_critical_loop_that_keeps_failing_turns_its_target_not_serving_then_back() -> None:
    servicer = health.aio.HealthServicer()
    for name in ("rtcc.ingest.v1.IngestService", "rtcc.registry.v1.RegistryService", ""):
        await servicer.set(name, SERVING)
    supervisor = Supervisor()
    await supervisor.attach_health(
        servicer,
        {
            "ingest": ["rtcc.ingest.v1.IngestService"],
            "registry": ["rtcc.registry.v1.RegistryService"],
        },
    )
    broken = asyncio.Event()
    broken.set()

    async def lease_loop() -> None:
        if broken.is_set():
            raise OSError("disk gone")
        await asyncio.Event().wait()

    policy = RestartPolicy(
        initial_backoff_s=0.01, max_backoff_s=0.05, give_up_after=3, healthy_after_s=0.2
    )
    entry = supervisor.start(
        "lease-loop", lease_loop, target="ingest", critical=True, policy=policy
    )
    await wait_for(
        lambda: _status(servicer, "rtcc.ingest.v1.IngestService") == NOT_SERVING,
        within_s=5,
        what="ingest NOT_SERVING",
    )
    assert entry.failures >= 3 and not entry.healthy
    assert _status(servicer, "") == NOT_SERVING
    assert _status(servicer, "rtcc.registry.v1.RegistryService") == SERVING, "others unaffected"
    broken.clear()  # the disk is back: the next restart stays up
    await wait_for(
        lambda: _status(servicer, "rtcc.ingest.v1.IngestService") == SERVING,
        within_s=5,
        what="ingest SERVING again",
    )
    assert entry.healthy and _status(servicer, "") == SERVING
    await supervisor.stop()


async def test_a_non_critical_loop_never_changes_health() -> None:
    servicer = health.aio.HealthServicer()
    await servicer.set("", SERVING)
    supervisor = Supervisor()
    await supervisor.attach_health(servicer, {"ingest": []})

    async def watch() -> None:
        raise ValueError("registry sent garbage")

    entry = supervisor.start("watch", watch, target="ingest", policy=FAST)
    await wait_for(lambda: entry.failures >= 5, within_s=5, what="five failures")
    assert _status(servicer, "") == SERVING
    await supervisor.stop()


async def test_a_one_shot_task_is_not_restarted_and_stop_runs_cleanup() -> None:
    supervisor = Supervisor()
    cleaned = asyncio.Event()

    async def once() -> None:
        raise RuntimeError("once")

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    first = supervisor.start("once", once, policy=RestartPolicy(restart=False))
    supervisor.start("forever", forever)
    assert first.task is not None
    await first.task
    assert first.failures == 1 and first.restarts == 0
    assert "once" not in supervisor.tasks, "a finished task no longer reports"
    await supervisor.stop()
    assert cleaned.is_set()


async def test_two_live_tasks_cannot_share_a_name() -> None:
    supervisor = Supervisor()
    supervisor.start("x", lambda: asyncio.Event().wait())
    with pytest.raises(ValueError, match="already supervised"):
        supervisor.start("x", lambda: asyncio.Event().wait())
    await supervisor.stop()
