"""Output the operator commands share: JSON for machines, problems readable for people."""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.console import Console

from deploy.clients.base import ApiError, Problem

err = Console(stderr=True)


def print_json(value: Any) -> None:
    """Plain JSON on stdout (no colour codes, so it pipes into jq)."""
    typer.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def fail(error: Exception, what: str) -> typer.Exit:
    """Print why `what` failed, an RFC 9457 problem as its title, detail and fields; the
    caller raises what this returns (exit 1)."""
    err.print(f"[red]{what} failed[/]")
    if isinstance(error, Problem) and (error.title or error.detail):
        for line in error.lines():
            err.print(f"  {line}", markup=False, highlight=False)
    elif isinstance(error, httpx.TransportError):
        err.print(f"  cannot reach the service: {type(error).__name__} {error}", markup=False)
    else:
        err.print(f"  {error}", markup=False, highlight=False)
    return typer.Exit(1)


Failure = (ApiError, httpx.HTTPError)
