"""Idempotency-Key fingerprints: what makes two partner writes "the same request"."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(method: str, path: str, body: Any) -> str:
    """SHA-256 over the method, the path and the body as canonical JSON (key order, spacing
    and number formatting do not matter; any change of value does)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()
