"""Supervised background work: every loop has an owner that logs, counts and restarts it.

A process's background loops (the ingest uploader and lease loop, retention, the
analytics worker and its per-camera pipelines, the registry's sweeps) run under one
:class:`Supervisor`. When a loop raises, the supervisor logs the exception with the
task's name, counts the failure, and starts the loop again after an exponential
backoff with jitter, so a bug or an outage shows up in logs and metrics instead of a
loop that silently stopped. A *critical* loop that keeps failing (``give_up_after``
consecutive failures) turns its target's gRPC health NOT_SERVING, so Kubernetes stops
routing to the pod and restarts it; once the loop has run cleanly for
``healthy_after_s`` its target serves again.

Metrics (one collector per process, registered on the server's Prometheus registry):
``rtcc_task_restarts_total{task}``, ``rtcc_task_failures_total{task}``,
``rtcc_task_running{task}`` and ``rtcc_task_healthy{task}``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = structlog.get_logger("rtcc.supervisor")

Run = Callable[[], Awaitable[Any]]


class HealthSetter(Protocol):
    """The part of gRPC's ``health.aio.HealthServicer`` the supervisor uses."""

    async def set(self, service: str, status: Any) -> None: ...


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with 'equal jitter': half fixed, half random."""
    ceiling = min(maximum, initial * (2 ** min(attempt, 30)))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """How a failed loop is restarted, and when a critical one counts as lost."""

    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    # Consecutive failures after which a critical task's target turns NOT_SERVING.
    give_up_after: int = 5
    # A run this long without failing resets the failure count (and health).
    healthy_after_s: float = 60.0
    # False: run once (a coroutine given to `spawn`); a failure is logged and counted.
    restart: bool = True


@dataclass(eq=False)
class SupervisedTask:
    """One supervised loop and its counters."""

    name: str
    target: str
    critical: bool
    policy: RestartPolicy
    restarts: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    running: bool = False
    healthy: bool = True
    last_error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def done(self) -> bool:
        return self.task is None or self.task.done()


class Supervisor:
    """Owns a process's background loops; `stop()` cancels and awaits them all."""

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self.tasks: dict[str, SupervisedTask] = {}
        self._rng = rng or random.Random()
        self._health: HealthSetter | None = None
        self._services: dict[str, list[str]] = {}
        self._health_updates: set[asyncio.Task[None]] = set()

    # -- wiring -------------------------------------------------------------------

    def collector(self) -> Collector:
        """A Prometheus collector reading this supervisor's counters."""
        return _SupervisorCollector(self)

    async def attach_health(self, health: HealthSetter, services: dict[str, list[str]]) -> None:
        """Report through `health` from now on: `services` names each target's services."""
        self._health, self._services = health, dict(services)
        for target in {t.target for t in self.tasks.values() if t.critical and not t.healthy}:
            await self._set_health(target)

    def unhealthy_targets(self) -> set[str]:
        return {t.target for t in self.tasks.values() if t.critical and not t.healthy}

    # -- tasks --------------------------------------------------------------------

    def start(
        self,
        name: str,
        run: Run,
        *,
        target: str = "",
        critical: bool = False,
        policy: RestartPolicy | None = None,
    ) -> SupervisedTask:
        """Run `run()` (a fresh awaitable per attempt) under supervision, named `name`."""
        if name in self.tasks and not self.tasks[name].done():
            raise ValueError(f"a task named {name!r} is already supervised")
        entry = SupervisedTask(name, target, critical, policy or RestartPolicy())
        self.tasks[name] = entry
        entry.task = asyncio.create_task(self._own(entry, run), name=name)
        return entry

    async def cancel(self, name: str) -> None:
        """Stop one task and wait for it (its own cleanup runs)."""
        entry = self.tasks.pop(name, None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
            await asyncio.gather(entry.task, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every task and wait for each to finish its cleanup."""
        tasks = [t.task for t in self.tasks.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._health_updates, return_exceptions=True)

    async def _own(self, entry: SupervisedTask, run: Run) -> None:
        loop = asyncio.get_running_loop()
        bound = log.bind(task=entry.name, target=entry.target)
        try:
            await self._attempts(entry, run, bound, loop)
        finally:
            if self.tasks.get(entry.name) is entry:
                del self.tasks[entry.name]  # a finished task no longer reports

    async def _attempts(
        self, entry: SupervisedTask, run: Run, bound: Any, loop: asyncio.AbstractEventLoop
    ) -> None:
        attempt = 0
        while True:
            entry.running = True
            recovered = loop.call_later(entry.policy.healthy_after_s, self._recovered, entry)
            try:
                await run()
                bound.info("task_finished")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                entry.failures += 1
                entry.consecutive_failures += 1
                entry.last_error = f"{type(exc).__name__}: {exc}"[:300]
                bound.exception("task_failed", failures=entry.consecutive_failures)
            finally:
                entry.running = False
                recovered.cancel()
            if not entry.policy.restart:
                return
            if (
                entry.critical
                and entry.healthy
                and entry.consecutive_failures >= entry.policy.give_up_after
            ):
                entry.healthy = False
                bound.error("critical_task_lost", error=entry.last_error)
                self._report(entry.target)
            if entry.consecutive_failures == 1:
                attempt = 0
            delay = backoff_delay(
                attempt, entry.policy.initial_backoff_s, entry.policy.max_backoff_s, self._rng
            )
            attempt += 1
            bound.warning("task_restarting", retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)  # the backoff itself, not a synchronisation
            entry.restarts += 1

    def _recovered(self, entry: SupervisedTask) -> None:
        entry.consecutive_failures = 0
        if not entry.healthy:
            entry.healthy = True
            log.info("critical_task_recovered", task=entry.name, target=entry.target)
            self._report(entry.target)

    def _report(self, target: str) -> None:
        if self._health is None:
            return  # attach_health applies it once the server is up
        update = asyncio.create_task(self._set_health(target), name=f"health-{target}")
        self._health_updates.add(update)
        update.add_done_callback(self._health_updates.discard)

    async def _set_health(self, target: str) -> None:
        from grpc_health.v1 import health_pb2

        if self._health is None:
            return
        lost = self.unhealthy_targets()
        status = health_pb2.HealthCheckResponse
        for service in self._services.get(target, []):
            await self._health.set(
                service, status.NOT_SERVING if target in lost else status.SERVING
            )
        # The process as a whole ("" is what probes ask) serves only if every target does.
        await self._health.set("", status.NOT_SERVING if lost else status.SERVING)


class _SupervisorCollector(Collector):
    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        tasks = list(self._supervisor.tasks.values())
        restarts = CounterMetricFamily(
            "rtcc_task_restarts", "Restarts of a supervised background task", labels=["task"]
        )
        failures = CounterMetricFamily(
            "rtcc_task_failures", "Failures (exceptions) of a supervised task", labels=["task"]
        )
        running = GaugeMetricFamily(
            "rtcc_task_running", "1 while a supervised task is running", labels=["task"]
        )
        healthy = GaugeMetricFamily(
            "rtcc_task_healthy", "0 once a critical task could not recover", labels=["task"]
        )
        for t in tasks:
            restarts.add_metric([t.name], t.restarts)
            failures.add_metric([t.name], t.failures)
            running.add_metric([t.name], 1 if t.running else 0)
            healthy.add_metric([t.name], 1 if t.healthy else 0)
        yield from (restarts, failures, running, healthy)
