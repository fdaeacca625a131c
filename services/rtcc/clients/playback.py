"""The typed client of PlaybackService: thin; `read`/`write`/`stream` by RPC name.

``read`` is for Get/List/Search calls (retried on UNAVAILABLE), ``write`` for calls that
change something (never retried), ``stream`` for server streams; all map failures to
``rtcc.core.errors``. Add typed methods here as callers appear.
"""

from __future__ import annotations

from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient
from rtcc.playback.v1 import playback_pb2_grpc


class PlaybackClient(ServiceClient):
    service = "playback"

    def __init__(self, channel: ChannelFactory, policy: CallPolicy | None = None) -> None:
        super().__init__(channel, playback_pb2_grpc.PlaybackServiceStub, policy)
