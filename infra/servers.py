"""Start the real backends — PostgreSQL, MinIO, NATS JetStream, an OIDC provider — here.

Each server runs on 127.0.0.1, on a free port, with its data in a fresh temporary
directory that is removed when it stops. Readiness is polled (pg_isready, MinIO's and
NATS's health endpoints), never guessed with a sleep.

From Python (the test fixtures):

    with start("postgres") as server:
        print(server.url)

From a shell (keeps running until Ctrl-C):

    python infra/servers.py up postgres|minio|nats [...]

Standard library only, so it works before the project's virtualenv exists.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

READY_TIMEOUT_S = 60.0
INSTALL_HINT = "run `make deps` (infra/install.sh) to install the real backends"


class ServerError(RuntimeError):
    """A server could not be started; the message says why and what to do."""


@dataclass
class RunningServer:
    """A started server: its URL, its process and its scratch directory."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    stop_signal: int = signal.SIGTERM
    _stopped: bool = field(default=False, repr=False)

    def stop(self) -> None:
        """Stop the process (escalating to SIGKILL after 15 s) and remove its data."""
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_running: list[RunningServer] = []


@atexit.register
def _stop_all() -> None:
    for server in reversed(_running):
        server.stop()


def tools_dir() -> Path:
    """Where infra/install.sh puts the Go-built tools: $RTCC_TOOLS, else ~/.cache/rtcc."""
    return Path(os.environ.get("RTCC_TOOLS") or Path.home() / ".cache" / "rtcc")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM it when the
    # parent dies, so a killed test run leaves no orphan servers behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _launch(
    name: str,
    argv: list[str],
    *,
    workdir: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / f"{name}.log"
    # PDEATHSIG belongs to the forking thread: only arm it from the main thread.
    in_main = threading.current_thread() is threading.main_thread()
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            user=user,
            extra_groups=[] if user else None,
            start_new_session=True,
            preexec_fn=_die_with_parent if in_main and sys.platform == "linux" else None,
        )
    return process, log


def _wait_ready(
    name: str, process: subprocess.Popen[bytes], log: Path, ready: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with status {process.returncode}:\n{_tail(log)}")
        if ready():
            return
        time.sleep(0.05)  # polling interval, not a guess at readiness
    process.kill()
    raise ServerError(f"{name} was not ready after {READY_TIMEOUT_S:.0f} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _register(server: RunningServer) -> RunningServer:
    _running.append(server)
    return server


def _postgres_bindir() -> Path:
    override = os.environ.get("RTCC_PG_BINDIR")
    candidates = (
        [Path(override)]
        if override
        else sorted(
            Path("/usr/lib/postgresql").glob("*/bin"),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
    )
    for bindir in candidates:
        if (bindir / "initdb").exists():
            return bindir
    raise ServerError(
        f"PostgreSQL is not installed (no initdb under /usr/lib/postgresql); {INSTALL_HINT}"
    )


def start_postgres() -> RunningServer:
    """A private PostgreSQL cluster with trust auth; URL `postgresql://postgres@…/postgres`."""
    bindir = _postgres_bindir()
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-postgres-"))
    # initdb and postgres refuse to run as root: as root, run them as the postgres user.
    user = "postgres" if os.geteuid() == 0 else None
    if user:
        shutil.chown(workdir, user, user)
    data = workdir / "data"
    init = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "-N",
        ],
        capture_output=True,
        user=user,
        extra_groups=[] if user else None,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        raise ServerError(f"initdb failed:\n{init.stderr.decode(errors='replace')}")
    port = free_port()
    process, log = _launch(
        "postgres",
        [
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(workdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=300",
        ],
        workdir=workdir,
        user=user,
    )

    def ready() -> bool:
        probe = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(probe, check=False).returncode == 0

    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    server = RunningServer("postgres", url, process, workdir, log, stop_signal=signal.SIGINT)
    _guarded_wait(server, ready)
    return _register(server)


def start_minio() -> RunningServer:
    """A single-drive MinIO (object lock and versioning work); URL `s3://user:pass@…`."""
    binary = tools_dir() / "bin" / "minio"
    if not binary.exists():
        found = shutil.which("minio")
        if not found:
            raise ServerError(f"MinIO is not installed (looked for {binary}); {INSTALL_HINT}")
        binary = Path(found)
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-minio-"))
    user, password = "rtccadmin", secrets.token_hex(16)
    port = free_port()
    process, log = _launch(
        "minio",
        [str(binary), "server", str(workdir / "data"), "--address", f"127.0.0.1:{port}", "--quiet"],
        workdir=workdir,
        env={
            "MINIO_ROOT_USER": user,
            "MINIO_ROOT_PASSWORD": password,
            "MINIO_BROWSER": "off",
            "MINIO_UPDATE": "off",
        },
    )
    url = f"s3://{user}:{password}@127.0.0.1:{port}?secure=false&region=us-east-1"
    server = RunningServer("minio", url, process, workdir, log)
    _guarded_wait(server, lambda: _http_ok(f"http://127.0.0.1:{port}/minio/health/ready"))
    return _register(server)


def start_nats() -> RunningServer:
    """nats-server with JetStream (file storage in the scratch dir); URL `nats://…`."""
    binary = shutil.which("nats-server")
    if not binary:
        raise ServerError(f"nats-server is not installed; {INSTALL_HINT}")
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-nats-"))
    port, monitor = free_port(), free_port()
    process, log = _launch(
        "nats",
        [
            binary,
            "-a",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            str(monitor),
            "-js",
            "-sd",
            str(workdir / "jetstream"),
        ],
        workdir=workdir,
    )
    server = RunningServer("nats", f"nats://127.0.0.1:{port}", process, workdir, log)
    _guarded_wait(server, lambda: _http_ok(f"http://127.0.0.1:{monitor}/healthz"))
    return _register(server)


def start_mailpit() -> RunningServer:
    """mailpit: an SMTP server keeping messages in memory, readable through its HTTP API.

    URL `smtp://127.0.0.1:SMTP_PORT?http=http://127.0.0.1:HTTP_PORT` (the `http` query
    parameter is the API base, e.g. `GET {http}/api/v1/messages`)."""
    binary = tools_dir() / "bin" / "mailpit"
    if not binary.exists():
        found = shutil.which("mailpit")
        if not found:
            raise ServerError(f"mailpit is not installed (looked for {binary}); {INSTALL_HINT}")
        binary = Path(found)
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-mailpit-"))
    smtp, http = free_port(), free_port()
    process, log = _launch(
        "mailpit",
        [
            str(binary), "--smtp", f"127.0.0.1:{smtp}", "--listen", f"127.0.0.1:{http}",
            "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check",
        ],
        workdir=workdir,
    )  # fmt: skip
    api = f"http://127.0.0.1:{http}"
    server = RunningServer("mailpit", f"smtp://127.0.0.1:{smtp}?http={api}", process, workdir, log)
    _guarded_wait(server, lambda: _http_ok(f"{api}/livez"))
    return _register(server)


OIDC_DIR = Path(__file__).resolve().parent / "oidc"


def start_oidc() -> RunningServer:
    """oidc-provider (npm) with infra/oidc/users.json; URL = its issuer `http://…`.

    Its test users, clients and the API audience are in users.json; clients may also
    be registered at run time (POST {issuer}/reg)."""
    modules = tools_dir() / "oidc" / "node_modules"
    node = shutil.which("node")
    if node is None or not (modules / "oidc-provider").is_dir():
        raise ServerError(f"oidc-provider is not installed (looked in {modules}); {INSTALL_HINT}")
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-oidc-"))
    # Node resolves packages next to the script: run a copy beside a link to the cache.
    shutil.copy(OIDC_DIR / "provider.mjs", workdir / "provider.mjs")
    (workdir / "node_modules").symlink_to(modules)
    port = free_port()
    process, log = _launch(
        "oidc",
        [node, str(workdir / "provider.mjs"), "--port", str(port),
         "--config", str(OIDC_DIR / "users.json")],
        workdir=workdir,
    )  # fmt: skip
    issuer = f"http://127.0.0.1:{port}"
    server = RunningServer("oidc", issuer, process, workdir, log)
    _guarded_wait(server, lambda: _http_ok(f"{issuer}/.well-known/openid-configuration"))
    return _register(server)


def _guarded_wait(server: RunningServer, ready: Callable[[], bool]) -> None:
    try:
        _wait_ready(server.name, server.process, server.log, ready)
    except BaseException:
        server.stop()
        raise


STARTERS: dict[str, Callable[[], RunningServer]] = {
    "postgres": start_postgres,
    "minio": start_minio,
    "nats": start_nats,
    "oidc": start_oidc,
    "mailpit": start_mailpit,
}


def start(name: str) -> RunningServer:
    """Start the server called `name` (postgres, minio or nats) and wait until it is ready."""
    if name not in STARTERS:
        raise ServerError(f"unknown server {name!r}; choose from {', '.join(STARTERS)}")
    return STARTERS[name]()


@contextlib.contextmanager
def running(*names: str) -> Iterator[list[RunningServer]]:
    """Start several servers; stop them all on exit."""
    servers: list[RunningServer] = []
    try:
        for name in names:
            servers.append(start(name))
        yield servers
    finally:
        for server in reversed(servers):
            server.stop()


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "up" or any(n not in STARTERS for n in argv[1:]):
        print(f"usage: python infra/servers.py up {{{'|'.join(STARTERS)}}} [...]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in background
    try:
        with running(*argv[1:]) as servers:
            for server in servers:
                print(server.url, flush=True)
                print(
                    f"{server.name}: ready, data in {server.workdir}; Ctrl-C stops", file=sys.stderr
                )
            while all(s.process.poll() is None for s in servers):
                time.sleep(0.5)
            dead = [s for s in servers if s.process.poll() is not None]
            for server in dead:
                print(f"{server.name} died:\n{_tail(server.log)}", file=sys.stderr)
            return 1
    except ServerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
