"""The event bus inside one process, with JetStream's semantics (see `rtcc.backends.bus`).

Messages are kept in a bounded ring (oldest dropped first); durable consumers keep a
cursor and a table of delivered-but-unacked messages whose ack deadline, when passed,
makes them deliverable again. Everything runs on the event loop: no locks needed.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import uuid
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from rtcc.backends import bus as rules
from rtcc.backends.bus import Message
from rtcc.core.errors import FailedPrecondition, Unavailable


@dataclass(slots=True)
class _Stored:
    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]
    time: dt.datetime


@dataclass(slots=True)
class _Pending:
    deadline: float  # loop time after which it may be delivered again
    deliveries: int


@dataclass(eq=False)
class _Consumer:
    name: str
    subject: str
    next_seq: int
    ack_wait: float
    max_inflight: int
    pending: dict[int, _Pending] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    subscribers: int = 0


class MemoryBus:
    """`EventBus` for one process: the monolith, laptops and tests."""

    def __init__(
        self, *, max_messages: int = 100_000, duplicate_window: float = rules.DUPLICATE_WINDOW_S
    ) -> None:
        self._messages: deque[_Stored] = deque(maxlen=max_messages)
        self._last_seq = 0
        self._duplicate_window = duplicate_window
        self._recent_ids: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._consumers: dict[str, _Consumer] = {}
        self._subscriptions: set[MemorySubscription] = set()
        self._closed = False

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        rules.check_subject(subject, wildcards=False)
        clean = rules.check_headers(headers)
        if self._closed:
            raise Unavailable("the in-process event bus is closed")
        now = self._now()
        while self._recent_ids:
            oldest_id, (_, at) = next(iter(self._recent_ids.items()))
            if now - at < self._duplicate_window:
                break
            del self._recent_ids[oldest_id]
        if msg_id is not None and msg_id in self._recent_ids:
            return self._recent_ids[msg_id][0]
        self._last_seq += 1
        stored = _Stored(self._last_seq, subject, bytes(data), clean, dt.datetime.now(dt.UTC))
        self._messages.append(stored)
        if msg_id is not None:
            self._recent_ids[msg_id] = (stored.seq, now)
        for consumer in self._consumers.values():
            if rules.subject_matches(consumer.subject, subject):
                consumer.wake.set()
        return stored.seq

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        queue: bool = True,
        deliver_from: dt.datetime | int | None = None,
        ack_wait: float = 30,
        max_inflight: int = 256,
    ) -> MemorySubscription:
        rules.check_subject(subject, wildcards=True)
        rules.check_subscription(durable, ack_wait, max_inflight)
        name = durable if queue else f"{durable}-{uuid.uuid4().hex[:12]}"
        consumer = self._consumers.get(name)
        if consumer is None:
            start = self._start_seq(deliver_from)
            consumer = _Consumer(name, subject, start, ack_wait, max_inflight)
            self._consumers[name] = consumer
        elif consumer.subject != subject:
            raise FailedPrecondition(
                f"durable {durable} already consumes {consumer.subject}, not {subject}"
            )
        else:
            consumer.ack_wait, consumer.max_inflight = ack_wait, max_inflight
        consumer.subscribers += 1
        subscription = MemorySubscription(self, consumer, temporary=not queue)
        self._subscriptions.add(subscription)
        return subscription

    def _start_seq(self, deliver_from: dt.datetime | int | None) -> int:
        if deliver_from is None:
            return self._last_seq + 1
        if isinstance(deliver_from, int):
            return max(deliver_from, 1)
        times = [stored.time for stored in self._messages]
        index = bisect.bisect_left(times, deliver_from.astimezone(dt.UTC))
        return self._messages[index].seq if index < len(times) else self._last_seq + 1

    def _take(self, consumer: _Consumer) -> Message | None:
        """The next delivery for `consumer`, or None when nothing is deliverable now."""
        now = self._now()
        first_seq = self._messages[0].seq if self._messages else self._last_seq + 1
        for seq in [s for s in consumer.pending if s < first_seq]:
            del consumer.pending[seq]  # dropped from the ring before it was acked
        due = [seq for seq, p in consumer.pending.items() if p.deadline <= now]
        if due:
            seq = min(due, key=lambda s: consumer.pending[s].deadline)
            return self._deliver(consumer, self._messages[seq - first_seq], now)
        if len(consumer.pending) >= consumer.max_inflight:
            return None
        consumer.next_seq = max(consumer.next_seq, first_seq)
        while consumer.next_seq <= self._last_seq:
            stored = self._messages[consumer.next_seq - first_seq]
            consumer.next_seq += 1
            if rules.subject_matches(consumer.subject, stored.subject):
                return self._deliver(consumer, stored, now)
        return None

    def _deliver(self, consumer: _Consumer, stored: _Stored, now: float) -> Message:
        previous = consumer.pending.get(stored.seq)
        deliveries = previous.deliveries + 1 if previous else 1
        consumer.pending[stored.seq] = _Pending(now + consumer.ack_wait, deliveries)

        async def ack() -> None:
            if consumer.pending.pop(stored.seq, None) is not None:
                consumer.wake.set()  # a slot under max_inflight is free

        async def nak(delay: float | None) -> None:
            if (pending := consumer.pending.get(stored.seq)) is not None:
                pending.deadline = self._now() + (delay or 0)
                consumer.wake.set()

        async def progress() -> None:
            if (pending := consumer.pending.get(stored.seq)) is not None:
                pending.deadline = self._now() + consumer.ack_wait

        return Message(
            subject=stored.subject,
            data=stored.data,
            seq=stored.seq,
            time=stored.time,
            headers=dict(stored.headers),
            redelivered=deliveries > 1,
            _ack=ack,
            _nak=nak,
            _progress=progress,
        )

    def _next_deadline(self, consumer: _Consumer) -> float | None:
        if not consumer.pending:
            return None
        return max(0.0, min(p.deadline for p in consumer.pending.values()) - self._now())

    def _release(self, subscription: MemorySubscription) -> None:
        self._subscriptions.discard(subscription)
        consumer = subscription.consumer
        consumer.subscribers -= 1
        consumer.wake.set()
        if subscription.temporary:
            self._consumers.pop(consumer.name, None)

    async def close(self) -> None:
        self._closed = True
        for subscription in list(self._subscriptions):
            await subscription.close()


class MemorySubscription:
    """Iterates deliveries of one consumer; several may share a durable consumer."""

    def __init__(self, bus: MemoryBus, consumer: _Consumer, *, temporary: bool) -> None:
        self._bus = bus
        self.consumer = consumer
        self.temporary = temporary
        self._closed = False

    def __aiter__(self) -> MemorySubscription:
        return self

    async def __anext__(self) -> Message:
        while not self._closed:
            message = self._bus._take(self.consumer)
            if message is not None:
                return message
            # Nothing deliverable: sleep until a publish, an ack, a nak, a close or the
            # earliest ack deadline. No await between _take and clear(): nothing is missed.
            self.consumer.wake.clear()
            try:
                await asyncio.wait_for(
                    self.consumer.wake.wait(), self._bus._next_deadline(self.consumer)
                )
            except TimeoutError:
                pass
        raise StopAsyncIteration

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._release(self)
