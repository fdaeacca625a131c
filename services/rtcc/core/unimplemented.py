"""Serve a v1 API whose implementation has not landed yet.

The generated base servicer answers every method with UNIMPLEMENTED, which is the
honest answer: health and reflection still list the service, so clients can
discover the contract, and no call pretends to work.
"""

from __future__ import annotations

import importlib

import grpc


def add_generated_base(server: grpc.aio.Server, service: str) -> list[str]:
    """Add the generated base servicers of ``rtcc.<service>.v1.<service>_pb2_grpc``."""
    grpc_module = importlib.import_module(f"rtcc.{service}.v1.{service}_pb2_grpc")
    pb2_module = importlib.import_module(f"rtcc.{service}.v1.{service}_pb2")
    names: list[str] = []
    for full_name, descriptor in pb2_module.DESCRIPTOR.services_by_name.items():
        servicer = getattr(grpc_module, f"{full_name}Servicer")
        adder = getattr(grpc_module, f"add_{full_name}Servicer_to_server")
        adder(servicer(), server)
        names.append(descriptor.full_name)
    return names
