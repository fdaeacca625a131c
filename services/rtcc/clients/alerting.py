"""The typed client of AlertingService: thin; `read`/`write`/`stream` by RPC name.

``read`` is for Get/List/Search calls (retried on UNAVAILABLE), ``write`` for calls that
change something (never retried), ``stream`` for server streams; all map failures to
``rtcc.core.errors``. Add typed methods here as callers appear.
"""

from __future__ import annotations

from rtcc.alerting.v1 import alerting_pb2_grpc
from rtcc.clients.base import CallPolicy, ChannelFactory, ServiceClient


class AlertingClient(ServiceClient):
    service = "alerting"

    def __init__(self, channel: ChannelFactory, policy: CallPolicy | None = None) -> None:
        super().__init__(channel, alerting_pb2_grpc.AlertingServiceStub, policy)
