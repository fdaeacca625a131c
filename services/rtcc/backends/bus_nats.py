"""The event bus on NATS JetStream (nats-server 2.9+): one stream, pull consumers.

One file-backed stream `RTCC` holds every subject under `rtcc.>`; it is created or
updated at open, so any replica may start first. Each durable is a pull consumer with
explicit acks: every subscription with the same durable fetches from it (queue
semantics), and the server redelivers what is not acked within `ack_wait`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    StorageType,
    StreamConfig,
)

from rtcc.backends import bus as rules
from rtcc.backends.bus import Message
from rtcc.core.errors import FailedPrecondition, InvalidArgument, Unavailable

log = structlog.get_logger(__name__)

_FETCH_WAIT_S = 5.0  # how long one pull request waits on the server for a message
_REQUEST_TIMEOUT_S = 5.0
_TEMPORARY_IDLE_S = 60.0  # a queue=False consumer left behind by a crash goes after this
_MAX_AGE_S = 7 * 86400.0


class NatsBus:
    """`EventBus` over NATS JetStream."""

    def __init__(self, nc: Client, where: str) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream(timeout=_REQUEST_TIMEOUT_S)
        self.where = where
        self._subscriptions: set[NatsSubscription] = set()

    @classmethod
    async def connect(cls, url: str, *, connect_timeout: float = 3.0) -> NatsBus:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port or 4222
        where = f"{host}:{port}"
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        # The client retries forever once connected; probe first so that a wrong address
        # fails now, with the reason, instead of after a timeout.
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
            writer.close()
        except (OSError, TimeoutError) as exc:
            raise Unavailable(
                f"the NATS server at {where} is unreachable: {_reason(exc)}"
            ) from None
        clients: list[Client] = []

        async def on_error(exc: Exception) -> None:
            log.warning("nats_error", server=where, error=str(exc))

        async def on_disconnect() -> None:
            if clients and not clients[0].is_closed:
                log.warning("nats_disconnected", server=where)

        async def on_reconnect() -> None:
            log.info("nats_reconnected", server=where)

        try:
            nc = await asyncio.wait_for(
                nats.connect(
                    servers=[parts._replace(query="").geturl()],
                    name="rtcc",
                    connect_timeout=int(max(connect_timeout, 1)),
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=on_error,
                    disconnected_cb=on_disconnect,
                    reconnected_cb=on_reconnect,
                ),
                timeout=connect_timeout + 1,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise Unavailable(
                f"the NATS server at {where} is unreachable: {_reason(exc)}"
            ) from None
        clients.append(nc)
        bus = cls(nc, where)
        try:
            await bus._ensure_stream(int(query.get("replicas", "1")))
        except BaseException:
            await nc.close()
            raise
        return bus

    async def _ensure_stream(self, replicas: int) -> None:
        config = StreamConfig(
            name=rules.STREAM,
            subjects=[rules.SUBJECTS],
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=_MAX_AGE_S,
            duplicate_window=rules.DUPLICATE_WINDOW_S,
            num_replicas=replicas,
        )
        try:
            try:
                await self._js.add_stream(config)
            except nats.js.errors.BadRequestError:  # exists with other settings
                await self._js.update_stream(config)
        except nats.errors.Error as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: BaseException) -> Unavailable:
        return Unavailable(f"the NATS server at {self.where} is unavailable: {_reason(exc)}")

    async def publish(
        self,
        subject: str,
        data: bytes,
        *,
        msg_id: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        rules.check_subject(subject, wildcards=False)
        sent: dict[str, str] = rules.check_headers(headers)
        if msg_id is not None:
            sent["Nats-Msg-Id"] = msg_id
        try:
            ack = await self._js.publish(subject, data, stream=rules.STREAM, headers=sent or None)
        except (nats.errors.Error, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        return int(ack.seq)

    async def subscribe(
        self,
        subject: str,
        *,
        durable: str,
        queue: bool = True,
        deliver_from: dt.datetime | int | None = None,
        ack_wait: float = 30,
        max_inflight: int = 256,
    ) -> NatsSubscription:
        rules.check_subject(subject, wildcards=True)
        rules.check_subscription(durable, ack_wait, max_inflight)
        name = durable if queue else f"{durable}-{uuid.uuid4().hex[:12]}"
        config = ConsumerConfig(
            durable_name=name,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_ack_pending=max_inflight,
            max_deliver=-1,
            inactive_threshold=None if queue else _TEMPORARY_IDLE_S,
            **_start(deliver_from),
        )
        try:
            try:
                info = await self._js.consumer_info(rules.STREAM, name)
            except nats.js.errors.NotFoundError:
                await self._js.add_consumer(rules.STREAM, config)
            else:
                if info.config.filter_subject != subject:
                    raise FailedPrecondition(
                        f"durable {durable} already consumes {info.config.filter_subject}, "
                        f"not {subject}"
                    )
                # The latest subscriber's timing applies; where it starts does not change.
                if (info.config.ack_wait, info.config.max_ack_pending) != (ack_wait, max_inflight):
                    updated = dataclasses.replace(
                        info.config, ack_wait=ack_wait, max_ack_pending=max_inflight
                    )
                    await self._js.add_consumer(rules.STREAM, updated)
            pull = await self._js.pull_subscribe_bind(durable=name, stream=rules.STREAM)
        except nats.errors.Error as exc:
            raise self._unavailable(exc) from None
        subscription = NatsSubscription(self, pull, name, temporary=not queue)
        self._subscriptions.add(subscription)
        return subscription

    async def _release(self, subscription: NatsSubscription) -> None:
        self._subscriptions.discard(subscription)
        if subscription.temporary and not self._nc.is_closed:
            try:
                await self._js.delete_consumer(rules.STREAM, subscription.name)
            except nats.errors.Error as exc:  # it expires by itself after _TEMPORARY_IDLE_S
                log.warning("nats_consumer_not_deleted", consumer=subscription.name, error=str(exc))

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.close()
        if not self._nc.is_closed:
            await self._nc.close()


def _start(deliver_from: dt.datetime | int | None) -> dict[str, Any]:
    if deliver_from is None:
        return {"deliver_policy": DeliverPolicy.NEW}
    if isinstance(deliver_from, int):
        return {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": deliver_from}
    if deliver_from.tzinfo is None:
        raise InvalidArgument("deliver_from needs a timezone-aware time", field="deliver_from")
    return {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": deliver_from}


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _stored_time(msg: Msg) -> dt.datetime | None:
    """The stored time rounded down to the microsecond, from the ack subject's nanoseconds.

    nats-py rounds to the nearest microsecond, which can land after the stored instant, so
    that `deliver_from=msg.time` would skip `msg` itself.
    """
    tokens = (msg.reply or "").split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>, or the form
    # with <domain>.<account hash> after ACK and a random token at the end.
    index = 7 if len(tokens) == 9 else 9 if len(tokens) >= 11 else None
    if index is None or not tokens[index].isdigit():
        return None
    seconds, nanos = divmod(int(tokens[index]), 1_000_000_000)
    return dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=nanos // 1000)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | nats.errors.TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


class NatsSubscription:
    """Pulls one message at a time, so idle peers on the same durable get the next one."""

    def __init__(
        self, bus: NatsBus, pull: JetStreamContext.PullSubscription, name: str, *, temporary: bool
    ) -> None:
        self._bus = bus
        self._pull = pull
        self.name = name
        self.temporary = temporary
        self._closed = asyncio.Event()

    def __aiter__(self) -> NatsSubscription:
        return self

    async def __anext__(self) -> Message:
        while not self._closed.is_set():
            msg = await self._fetch()
            if msg is not None:
                return self._wrap(msg)
        raise StopAsyncIteration

    async def _fetch(self) -> Msg | None:
        """One message, or None on an empty poll or when closed meanwhile."""
        fetch = asyncio.ensure_future(self._pull.fetch(1, timeout=_FETCH_WAIT_S))
        fetch.add_done_callback(_retrieve)  # no "exception never retrieved" when abandoned
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({fetch, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (fetch, closed):
                task.cancel()
        if not fetch.done() or fetch.cancelled():
            return None
        try:
            return fetch.result()[0]
        except (nats.errors.TimeoutError, TimeoutError):
            return None
        except nats.errors.Error as exc:
            if self._bus._nc.is_closed:
                raise self._bus._unavailable(exc) from None
            # Reconnecting: the client library retries; poll again shortly.
            log.warning("nats_fetch_failed", consumer=self.name, error=str(exc))
            await asyncio.sleep(0.5)
            return None

    def _wrap(self, msg: Msg) -> Message:
        meta = msg.metadata
        headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("Nats-")}
        where = self._bus

        async def ack() -> None:
            try:
                await msg.ack_sync(timeout=_REQUEST_TIMEOUT_S)
            except nats.errors.Error as exc:
                raise where._unavailable(exc) from None

        async def nak(delay: float | None) -> None:
            try:
                await msg.nak(delay=delay)
            except nats.errors.Error as exc:
                raise where._unavailable(exc) from None

        async def progress() -> None:
            try:
                await msg.in_progress()
            except nats.errors.Error as exc:
                raise where._unavailable(exc) from None

        return Message(
            subject=msg.subject,
            data=msg.data,
            seq=meta.sequence.stream,
            time=_stored_time(msg) or meta.timestamp.astimezone(dt.UTC),
            headers=headers,
            redelivered=meta.num_delivered > 1,
            _ack=ack,
            _nak=nak,
            _progress=progress,
        )

    async def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            await self._pull.unsubscribe()
        except nats.errors.Error:
            pass  # the connection is already gone
        await self._bus._release(self)
