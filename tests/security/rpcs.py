"""Every RPC of every `rtcc.*.v1` service, from the generated descriptors, and a
generic way to call any of them over a real channel."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

import rtcc


@dataclass(frozen=True)
class Rpc:
    service: str  # e.g. "IngestService"
    method: str  # e.g. "ReadRange"
    descriptor: MethodDescriptor

    @property
    def key(self) -> str:
        return f"{self.service}.{self.method}"

    @property
    def path(self) -> str:
        return f"/{self.descriptor.containing_service.full_name}/{self.method}"

    @property
    def package(self) -> str:  # "ingest"
        return self.descriptor.containing_service.full_name.split(".")[1]

    def request(self, **fields: Any) -> Message:
        cls = message_factory.GetMessageClass(self.descriptor.input_type)
        return cls(**fields)

    @property
    def client_streaming(self) -> bool:
        return bool(self.descriptor.client_streaming)

    @property
    def server_streaming(self) -> bool:
        return bool(self.descriptor.server_streaming)


def service_descriptors() -> Iterator[ServiceDescriptor]:
    """Every service of every generated `rtcc.<name>.v1.*_pb2` module."""
    for package in pkgutil.iter_modules(rtcc.__path__):
        try:
            v1 = importlib.import_module(f"rtcc.{package.name}.v1")
        except ModuleNotFoundError:
            continue
        for module in pkgutil.iter_modules(v1.__path__):
            if not module.name.endswith("_pb2"):
                continue
            pb2 = importlib.import_module(f"rtcc.{package.name}.v1.{module.name}")
            yield from pb2.DESCRIPTOR.services_by_name.values()


def all_rpcs() -> list[Rpc]:
    return sorted(
        (
            Rpc(service.name, method.name, method)
            for service in service_descriptors()
            for method in service.methods
        ),
        key=lambda r: r.key,
    )


def rpc_by_key(key: str) -> Rpc:
    return next(r for r in all_rpcs() if r.key == key)


@dataclass
class Result:
    """What one call came to: its status and the messages received."""

    code: grpc.StatusCode
    details: str = ""
    responses: list[Any] = field(default_factory=list)


async def invoke(
    channel: grpc.aio.Channel,
    rpc: Rpc,
    request: Message,
    *,
    deadline_s: float = 15.0,
    stream_wait_s: float = 2.0,
    max_messages: int = 50,
) -> Result:
    """Call `rpc`. Streams: read until `max_messages`, their end, or `stream_wait_s`
    without a message (then the stream is open and healthy: OK)."""
    output = message_factory.GetMessageClass(rpc.descriptor.output_type)
    kwargs = {
        "request_serializer": type(request).SerializeToString,
        "response_deserializer": output.FromString,
    }
    try:
        if not rpc.server_streaming:
            if rpc.client_streaming:
                call = channel.stream_unary(rpc.path, **kwargs)

                async def one() -> Any:
                    yield request

                reply = await call(one(), timeout=deadline_s)
            else:
                reply = await channel.unary_unary(rpc.path, **kwargs)(request, timeout=deadline_s)
            return Result(grpc.StatusCode.OK, responses=[reply])
        if rpc.client_streaming:

            async def many() -> Any:
                yield request

            stream = channel.stream_stream(rpc.path, **kwargs)(many(), timeout=deadline_s)
        else:
            stream = channel.unary_stream(rpc.path, **kwargs)(request, timeout=deadline_s)
        return await _drain(stream, stream_wait_s, max_messages)
    except grpc.aio.AioRpcError as exc:
        return Result(exc.code(), exc.details() or "")


async def _drain(stream: Any, wait_s: float, max_messages: int) -> Result:
    received: list[Any] = []
    try:
        while len(received) < max_messages:
            try:
                message = await asyncio.wait_for(stream.read(), wait_s)
            except TimeoutError:
                break
            if message is grpc.aio.EOF:
                code = await stream.code()
                if code != grpc.StatusCode.OK:
                    return Result(code, await stream.details() or "", received)
                break
            received.append(message)
    except grpc.aio.AioRpcError as exc:
        return Result(exc.code(), exc.details() or "", received)
    finally:
        stream.cancel()
    return Result(grpc.StatusCode.OK, responses=received)
