"""`rtcc`: the one program. `rtcc serve --target=all|registry|...`, `rtcc token`,
`rtcc health`, and the admin commands of each service."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rtcc.core.auth import PLATFORM_ORG, ROLES, TokenAuthority
from rtcc.core.config import Settings, load_settings
from rtcc.core.errors import RtccError
from rtcc.core.logging import configure_logging, get_logger, mask_url
from rtcc.core.targets import expand

# Modules that add admin sub-commands: each exposes add_commands(subparsers).
COMMAND_MODULES = ("rtcc.registry.cli", "rtcc.sim.cli", "rtcc.evidence.cli", "rtcc.capacity.cli")


def _explain(error: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for item in error.errors():
        path = "__".join(str(p) for p in item["loc"]).upper()
        lines.append(f"  RTCC_{path}: {item['msg']}")
    return "\n".join(lines)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


async def _serve(args: argparse.Namespace) -> int:
    from rtcc.core.server import serve_forever, start_platform

    settings = _settings(args)
    configure_logging(settings.log_format, settings.log_level)
    targets = expand(args.target)
    platform = await start_platform(settings, targets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    simulator = None
    try:
        if args.target == "all" and not settings.auth.jwt_secret.get_secret_value():
            simulator = await _announce_all_in_one(args, settings, platform)
    except BaseException:
        await platform.stop(grace=0)
        raise
    try:
        await serve_forever(platform, stop)
    finally:
        if simulator is not None:
            await simulator.stop()
    return 0


async def _announce_all_in_one(args: argparse.Namespace, settings: Settings, platform: Any) -> Any:
    """All-in-one mode: start demo cameras if asked, print tokens and addresses."""
    from rtcc.core.server import jwt_secret

    authority = TokenAuthority(jwt_secret(settings))
    day = timedelta(days=1)
    admin = authority.mint(subject="admin", org_id=PLATFORM_ORG, roles=["platform-admin"], ttl=day)
    simulator, lines = None, []
    if args.demo_cameras > 0:
        from rtcc.sim.demo import DEMO_ORG_ID, start_demo

        simulator = await start_demo(
            platform.grpc_address, admin, args.demo_cameras, settings.data_dir / "sim"
        )
        from rtcc.alerting.demo import start_demo_feed

        # A simulated gunshot and CAD incident every 3 minutes (the first at once), and
        # a hot list of plates the demo cameras show: alerts without typing anything.
        start_demo_feed(platform.runtime, organization_id=DEMO_ORG_ID, every_s=180)
        operator = authority.mint(
            subject="demo-operator", org_id=DEMO_ORG_ID, roles=["operator", "investigator"], ttl=day
        )
        lines = [
            f"  demo     {len(simulator.cameras)} simulated cameras recording, analysed "
            f"(people, vehicles, plates, faces) and alerting, owned by {DEMO_ORG_ID}",
            f"  operator token (24 h, sign in to the console with it):\n{operator}",
        ]
    http = platform.http.port if platform.http else 0
    host = settings.resolved_public_url().rsplit(":", 1)[0]
    print(
        "\n".join(
            [
                "",
                "OpenRTCC is up.",
                f"  gRPC     {platform.grpc_address}",
                f"  console  {host}:{http}/",
                f"  metrics  http://{settings.metrics_listen}/metrics",
                f"  admin token (24 h):\n{admin}",
                *lines,
                "",
            ]
        ),
        flush=True,
    )
    return simulator


def _token(args: argparse.Namespace) -> int:
    from rtcc.core.server import jwt_secret

    settings = _settings(args)
    authority = TokenAuthority(
        jwt_secret(settings), issuer=settings.auth.issuer, audience=settings.auth.audience
    )
    print(
        authority.mint(
            subject=args.subject,
            org_id=args.org,
            roles=args.role,
            ttl=timedelta(hours=args.ttl_hours),
        )
    )
    return 0


async def _health(args: argparse.Namespace) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from rtcc.core.clients import open_channel

    tls = _settings(args).tls
    overrides = {
        "ca_file": args.tls_ca,
        "client_cert_file": args.tls_cert,
        "client_key_file": args.tls_key,
        "server_name": args.tls_server_name,
    }
    chosen = {k: v for k, v in overrides.items() if v is not None}
    if chosen:
        tls = type(tls).model_validate({**tls.model_dump(), **chosen})
    async with open_channel(args.address, tls=tls) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = await stub.Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.aio.AioRpcError as exc:
            print(f"error: {exc.code().name}: {mask_url(exc.details() or '')}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    print(status)
    return 0 if response.status == health_pb2.HealthCheckResponse.SERVING else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtcc", description=__doc__)
    parser.add_argument("--config", type=Path, help="JSON or YAML settings file")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run one target, or all in one process")
    serve.add_argument("--target", default="all", help="all, or registry,ingest,...")
    serve.add_argument(
        "--demo-cameras",
        type=int,
        default=0,
        metavar="N",
        help="all-in-one only: serve N simulated RTSP cameras and register them",
    )
    serve.set_defaults(run=_serve, is_async=True)

    token = sub.add_parser("token", help="mint a bearer token with the configured key")
    token.add_argument("--subject", default="admin")
    token.add_argument("--org", default=PLATFORM_ORG)
    token.add_argument("--role", action="append", choices=sorted(ROLES), required=True)
    token.add_argument("--ttl-hours", type=float, default=12)
    token.set_defaults(run=_token, is_async=False)

    health = sub.add_parser("health", help="check a server's gRPC health (exit 0 if SERVING)")
    health.add_argument("--address", default="127.0.0.1:50051")
    health.add_argument("--service", default="")
    health.add_argument("--timeout", type=float, default=5)
    # TLS defaults come from the settings (RTCC_TLS__CA_FILE, ...), as in the server's pod.
    health.add_argument("--tls-ca", type=Path, help="CA bundle: check over TLS")
    health.add_argument("--tls-cert", type=Path, help="client certificate (mTLS)")
    health.add_argument("--tls-key", type=Path, help="client certificate's key (mTLS)")
    health.add_argument("--tls-server-name", help="name expected in the server's certificate")
    health.set_defaults(run=_health, is_async=True)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.is_async:
            return int(asyncio.run(args.run(args)))
        return int(args.run(args))
    # Every message printed here goes through mask_url: errors may quote a URL with
    # its password (a database, object store or bus URL as given).
    except ValidationError as exc:
        print(mask_url(_explain(exc)), file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {mask_url(str(exc))}", file=sys.stderr)
        return 2
    except RtccError as exc:
        get_logger().error("startup_failed", reason=exc.message)
        print(f"error: {mask_url(exc.message)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {mask_url(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: show the traceback, without passwords
        trace = "".join(traceback.format_exception(exc))
        print(mask_url(trace), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
