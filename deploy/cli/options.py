"""Options more than one command group takes."""

from __future__ import annotations

from typing import Annotated

import typer

Bootstrap = Annotated[str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker")]
