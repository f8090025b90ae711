"""The page: server-rendered, Thai and English, live; signed in with a read key."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["page"])
