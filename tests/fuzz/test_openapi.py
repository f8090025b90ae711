"""schemathesis over every service's OpenAPI, as an outside client would: over HTTP, with the
admin key and with no key (and the partner API with a lender's key). Any 5xx, or a status,
content type or body that the operation does not document, fails.

The four services run in-process (uvicorn in a thread of their own, on free ports) on a
broker of their own (what the fuzz publishes must not reach other tests' consumers) and
fresh databases. Bounded for `make test` (FUZZ_MAX_EXAMPLES per
operation, default 8); the heavier run of issue 12 is

    FUZZ_MAX_EXAMPLES=60 FUZZ_KEYS=admin .venv/bin/pytest tests/fuzz -s

which prints schemathesis's summary per service.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from deploy.stack.databases import drop_databases
from deploy.stack.launcher import free_port
from services.certification.__main__ import build as build_certification
from services.certification.settings import CertificationSettings
from services.dashboard.__main__ import build as build_dashboard
from services.dashboard.settings import DashboardSettings
from services.funding.__main__ import build as build_funding
from services.funding.settings import FundingSettings
from services.registry.__main__ import build as build_registry
from services.registry.settings import RegistrySettings
from services.training.__main__ import build as build_training
from services.training.settings import TrainingSettings
from shared.runtime import Service
from shared.settings import ServiceSettings
from tests.support import POSTGRES, fresh_databases, tansu

# No 5xx; every status, content type and body as the operation documents it.
CHECKS = (
    "not_a_server_error,response_schema_conformance,status_code_conformance,"
    "content_type_conformance"
)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
KEYS = os.environ.get("FUZZ_KEYS", "admin,none").split(",")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
BUILDERS: dict[str, tuple[Callable[..., Service], type[ServiceSettings], dict[str, object]]] = {
    "registry": (build_registry, RegistrySettings, {}),
    "training": (build_training, TrainingSettings, {}),
    # Fuzzing the public routes is the point: the limit would answer 429 to most of it.
    "certification": (
        build_certification,
        CertificationSettings,
        {"verify_rate_limit": "1000000/minute"},
    ),
    # No webhook is ever sent to a fuzzed URL: the delivery job does not run during the test.
    "funding": (build_funding, FundingSettings, {"webhook_poll_seconds": 86_400}),
    "dashboard": (build_dashboard, DashboardSettings, {}),
}


@dataclass
class Running:
    urls: dict[str, str]
    admin_key: str
    partner_key: str  # gsb's, made before any fuzzing (which may revoke keys it can list)


@pytest.fixture(scope="module")
def fuzz_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A broker of the fuzz's own: the people it registers would otherwise be replicated by
    consumers of later tests that read the session broker's topics from the beginning."""
    yield from tansu(tmp_path_factory.mktemp("fuzz-broker"))


@pytest.fixture(scope="module")
def running(fuzz_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """All four services over HTTP, on an event loop in a thread (schemathesis's CLI is the
    client, in a subprocess)."""
    admin_key = "sbk_" + secrets.token_urlsafe(24)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=120)

    databases: dict[str, str] = run(fresh_databases("sb_fuzz", tmp_path_factory.mktemp("fuzz")))
    servers: list[uvicorn.Server] = []
    tasks = []
    urls: dict[str, str] = {}
    with httpx.Client(timeout=5) as client:
        for name, (build, settings_type, extra) in BUILDERS.items():
            port = free_port()
            settings = settings_type(
                **{
                    "database_url": databases[name],
                    "kafka_bootstrap_servers": fuzz_bootstrap,
                    "kafka_enable_idempotence": False,
                    "consumer_group_prefix": f"fuzz{secrets.token_hex(3)}",
                    "admin_key": admin_key,
                    "http_port": port,
                    **extra,
                }
            )
            config = uvicorn.Config(
                build(settings).app, host="127.0.0.1", port=port, log_level="warning"
            )
            servers.append(uvicorn.Server(config))
            tasks.append(asyncio.run_coroutine_threadsafe(servers[-1].serve(), loop))
            urls[name] = f"http://127.0.0.1:{port}"
            # One at a time: Alembic's migration context is process-global.
            _ready(client, urls[name])
        created = client.post(
            f"{urls['funding']}/lenders/gsb/keys",
            json={"name": "fuzz"},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert created.status_code == 201, created.text
    try:
        yield Running(urls, admin_key, created.json()["token"])
    finally:
        for server in servers:
            server.should_exit = True
        for task in tasks:
            task.result(timeout=60)
        if POSTGRES:
            run(drop_databases(databases.values()))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _ready(client: httpx.Client, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if client.get(f"{url}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not ready in {timeout}s")
        time.sleep(0.1)


def test_the_partner_api_with_a_lender_key(running: Running, tmp_path: Path) -> None:
    """The partner routes refuse the admin key, so a lender's key reaches their handlers.
    First: the admin run may revoke the lender's key (it can list them)."""
    url = running.urls["funding"]
    token = running.partner_key
    fuzz("funding key=gsb", url, token, tmp_path, "--include-path-regex", "^/partner/")


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("service", list(BUILDERS))
def test_no_server_errors_and_responses_as_documented(
    running: Running, service: str, key: str, tmp_path: Path
) -> None:
    token = running.admin_key if key == "admin" else None
    fuzz(f"{service} key={key}", running.urls[service], token, tmp_path)


def fuzz(label: str, url: str, token: str | None, folder: Path, *extra: str) -> None:
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    command = [
        SCHEMATHESIS,
        "run",
        f"{url}/openapi.json",
        "--checks",
        os.environ.get("FUZZ_CHECKS", CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--phases",
        os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing"),
        "--seed",
        os.environ.get("FUZZ_SEED", "12"),
        "--request-timeout",
        "30",
        "--workers",
        "1",
        "--generation-database",
        "none",  # each run on its own: no examples carried over from the last one
        "--no-color",
        *headers,
        *extra,
    ]
    # In a folder of its own: schemathesis keeps a replay cache in the working directory.
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=folder
    )
    if os.environ.get("FUZZ_MAX_EXAMPLES"):
        print(f"\n=== {label} ===\n{result.stdout[-6000:]}")
    assert result.returncode == 0, f"{label}\n{result.stdout}\n{result.stderr}"
