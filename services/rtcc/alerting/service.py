"""The alerting target. Its v1 API is served by the generated base servicer until the
implementation lands: every method answers UNIMPLEMENTED."""

from __future__ import annotations

import grpc

from rtcc.core.runtime import Runtime
from rtcc.core.unimplemented import add_generated_base


async def setup(runtime: Runtime, server: grpc.aio.Server) -> list[str]:
    return add_generated_base(server, "alerting")
