"""The event bus contract, proven in-process and on NATS JetStream."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from rtcc.backends.bus import EventBus, Message, Subscription, open_bus
from rtcc.core.errors import InvalidArgument, Unavailable

WAIT_S = 10.0  # generous upper bound for a delivery that must happen


def _subject() -> str:
    return f"rtcc.test.s{uuid.uuid4().hex[:12]}"


def _durable() -> str:
    return f"d{uuid.uuid4().hex[:12]}"


async def _next(subscription: Subscription, within: float = WAIT_S) -> Message:
    return await asyncio.wait_for(anext(subscription), within)


async def _nothing_within(subscription: Subscription, seconds: float) -> bool:
    try:
        await asyncio.wait_for(anext(subscription), seconds)
    except TimeoutError:
        return True
    return False


async def test_published_messages_arrive_in_order_with_their_headers(bus: EventBus) -> None:
    subject = _subject()
    sub = await bus.subscribe(subject, durable=_durable())
    seqs = [
        await bus.publish(subject, f"m{i}".encode(), headers={"camera-id": f"cam_{i}"})
        for i in range(3)
    ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    for i, seq in enumerate(seqs):
        msg = await _next(sub)
        assert (msg.subject, msg.data, msg.seq) == (subject, f"m{i}".encode(), seq)
        assert msg.headers == {"camera-id": f"cam_{i}"}
        assert not msg.redelivered and msg.time.tzinfo is not None
        await msg.ack()
    await sub.close()


async def test_unacked_message_is_redelivered_after_ack_wait_then_acked_for_good(
    bus: EventBus,
) -> None:
    subject = _subject()
    sub = await bus.subscribe(subject, durable=_durable(), ack_wait=1)
    seq = await bus.publish(subject, b"work")
    first = await _next(sub)
    assert (first.seq, first.redelivered) == (seq, False)
    started = time.monotonic()
    again = await _next(sub)  # not acked: comes back once ack_wait has passed
    assert time.monotonic() - started >= 0.5
    assert (again.seq, again.data, again.redelivered) == (seq, b"work", True)
    await again.ack()
    assert await _nothing_within(sub, 1.5)
    await sub.close()


async def test_nak_redelivers_without_waiting_for_ack_wait(bus: EventBus) -> None:
    subject = _subject()
    sub = await bus.subscribe(subject, durable=_durable(), ack_wait=60)
    await bus.publish(subject, b"retry me")
    first = await _next(sub)
    await first.nak()
    again = await _next(sub, within=5)
    assert (again.seq, again.redelivered) == (first.seq, True)
    await again.ack()
    await sub.close()


async def test_subscribers_of_one_durable_share_the_work(bus: EventBus) -> None:
    subject, durable = _subject(), _durable()
    a = await bus.subscribe(subject, durable=durable)
    b = await bus.subscribe(subject, durable=durable)
    seqs = [await bus.publish(subject, f"{i}".encode()) for i in range(20)]
    # While `a` holds the first message unacked, `b` is given the next one.
    held = await _next(a)
    other = await _next(b)
    assert (held.seq, other.seq) == (seqs[0], seqs[1])
    received = {"a": [held.seq], "b": [other.seq]}
    await held.ack()
    await other.ack()
    everything = asyncio.Event()

    async def work(name: str, sub: Subscription) -> None:
        async for msg in sub:
            received[name].append(msg.seq)
            await msg.ack()
            if len(received["a"]) + len(received["b"]) >= len(seqs):
                everything.set()

    workers = [asyncio.create_task(work("a", a)), asyncio.create_task(work("b", b))]
    await asyncio.wait_for(everything.wait(), WAIT_S)
    await a.close()
    await b.close()
    await asyncio.wait_for(asyncio.gather(*workers), WAIT_S)
    together = received["a"] + received["b"]
    assert sorted(together) == seqs  # each message exactly once across both


async def test_every_subscription_without_queue_gets_every_message(bus: EventBus) -> None:
    subject, durable = _subject(), _durable()
    one = await bus.subscribe(subject, durable=durable, queue=False)
    two = await bus.subscribe(subject, durable=durable, queue=False)
    seq = await bus.publish(subject, b"camera changed")
    for sub in (one, two):
        msg = await _next(sub)
        assert msg.seq == seq
        await msg.ack()
        await sub.close()


async def test_duplicate_msg_id_is_dropped_and_returns_the_original_sequence(
    bus: EventBus,
) -> None:
    subject = _subject()
    sub = await bus.subscribe(subject, durable=_durable())
    msg_id = f"segment-{uuid.uuid4().hex}"
    first = await bus.publish(subject, b"segment 1", msg_id=msg_id)
    again = await bus.publish(subject, b"segment 1 (retry)", msg_id=msg_id)
    marker = await bus.publish(subject, b"next")
    assert again == first and marker > first
    got = [await _next(sub), await _next(sub)]
    assert [(m.seq, m.data) for m in got] == [(first, b"segment 1"), (marker, b"next")]
    for msg in got:
        await msg.ack()
    await sub.close()


async def test_new_durable_replays_from_a_sequence(bus: EventBus) -> None:
    subject = _subject()
    seqs = [await bus.publish(subject, f"{i}".encode()) for i in range(5)]
    await bus.publish(_subject(), b"another subject, interleaved")
    sub = await bus.subscribe(subject, durable=_durable(), deliver_from=seqs[2])
    got = [await _next(sub) for _ in range(3)]
    assert [m.seq for m in got] == seqs[2:]
    assert await _nothing_within(sub, 0.5)
    await sub.close()


async def test_new_durable_replays_from_a_time(bus: EventBus) -> None:
    subject = _subject()
    seqs = [await bus.publish(subject, f"{i}".encode()) for i in range(3)]
    # Learn the stored times from a first reader, then replay from the second's.
    reader = await bus.subscribe(subject, durable=_durable(), deliver_from=seqs[0])
    times = [(await _next(reader)).time for _ in seqs]
    await reader.close()
    assert times == sorted(times)
    if times[0] == times[1]:
        pytest.fail("two messages were stored at the same instant; cannot test replay by time")
    sub = await bus.subscribe(subject, durable=_durable(), deliver_from=times[1])
    got = [await _next(sub) for _ in range(2)]
    assert [m.seq for m in got] == seqs[1:]
    await sub.close()


async def test_durable_resumes_where_it_was_after_reopening(bus: EventBus) -> None:
    subject, durable = _subject(), _durable()
    sub = await bus.subscribe(subject, durable=durable)
    one, two = await bus.publish(subject, b"1"), await bus.publish(subject, b"2")
    first = await _next(sub)
    assert first.seq == one
    await first.ack()
    await sub.close()
    three = await bus.publish(subject, b"3")
    # deliver_from only applies to a new durable: this one resumes after `one`.
    again = await bus.subscribe(subject, durable=durable, deliver_from=1)
    got = [await _next(again), await _next(again)]
    assert [m.seq for m in got] == [two, three]
    for msg in got:
        await msg.ack()
    await again.close()


async def test_wildcard_subscription_matches_one_token(bus: EventBus) -> None:
    base = _subject()
    sub = await bus.subscribe(f"{base}.*", durable=_durable())
    await bus.publish(f"{base}.a.deeper", b"no")
    await bus.publish(base, b"no")
    seq = await bus.publish(f"{base}.camera", b"yes")
    msg = await _next(sub)
    assert (msg.seq, msg.data) == (seq, b"yes")
    await msg.ack()
    assert await _nothing_within(sub, 0.5)
    await sub.close()


async def test_close_ends_a_waiting_iteration(bus: EventBus) -> None:
    sub = await bus.subscribe(_subject(), durable=_durable())

    async def drain() -> list[Message]:
        return [msg async for msg in sub]

    task = asyncio.create_task(drain())
    await asyncio.sleep(0)  # let it start waiting
    await sub.close()
    assert await asyncio.wait_for(task, 3) == []


async def test_invalid_subjects_and_names_are_refused(bus: EventBus) -> None:
    with pytest.raises(InvalidArgument):
        await bus.publish("camera.changed", b"outside rtcc.")
    with pytest.raises(InvalidArgument):
        await bus.publish("rtcc.camera.*", b"wildcard")
    with pytest.raises(InvalidArgument):
        await bus.publish(_subject(), b"x", headers={"Nats-Msg-Id": "reserved"})
    with pytest.raises(InvalidArgument):
        await bus.subscribe(_subject(), durable="has.dots")


async def test_unreachable_nats_is_unavailable_fast() -> None:
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"127\.0\.0\.1:1\b"):
        await open_bus("nats://127.0.0.1:1")
    assert time.monotonic() - started < 6


async def test_resubscribing_applies_the_new_ack_wait(bus: EventBus) -> None:
    subject, durable = _subject(), _durable()
    first = await bus.subscribe(subject, durable=durable, ack_wait=60)
    await first.close()
    sub = await bus.subscribe(subject, durable=durable, ack_wait=1)
    seq = await bus.publish(subject, b"x")
    assert (await _next(sub)).seq == seq
    again = await _next(sub, within=5)  # redelivered after 1 s, not 60 s
    assert (again.seq, again.redelivered) == (seq, True)
    await again.ack()
    await sub.close()
