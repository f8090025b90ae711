"""Where the services are, for the commands that call them: `SKILLBRIDGE_<SERVICE>_URL`
(e.g. SKILLBRIDGE_REGISTRY_URL), else the port `skillbridge up` gives it on this host."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Annotated

import typer

from deploy.stack.launcher import SERVICES


class ServiceName(StrEnum):
    registry = "registry"
    training = "training"
    certification = "certification"
    funding = "funding"
    dashboard = "dashboard"


def service_url(service: str) -> str:
    default = f"http://127.0.0.1:{SERVICES[service]}"
    return os.environ.get(f"SKILLBRIDGE_{service.upper()}_URL", default).rstrip("/")


def service_urls() -> dict[str, str]:
    return {service: service_url(service) for service in SERVICES}


ServiceOption = Annotated[
    ServiceName,
    typer.Option(
        "--service",
        "-s",
        help="the service (its URL: SKILLBRIDGE_<SERVICE>_URL)",
        case_sensitive=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]
