"""PDPA subject access: what each service answers at `GET /people/{person_id}/held` when it
no longer holds the person's data (the CLI's `people export` gathers the parts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Erased(BaseModel):
    """The person was erased: the service says so and nothing else."""

    erased: Literal[True] = True
    erased_at: datetime | None = Field(
        default=None, description="None where the service's replica keeps only the status"
    )


class Merged(BaseModel):
    """The person's records moved to the surviving person (ask for that id)."""

    merged: Literal[True] = True
    survivor_id: str | None
