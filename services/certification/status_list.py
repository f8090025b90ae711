"""W3C Bitstring Status List v1.0: one bit per certificate, set when it is revoked.

The bitstring is GZIP-compressed and then multibase base64url encoded without padding
(`u...`). Bit 0 is the most significant bit of the first byte. Pure: no I/O.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

MIN_ENTRIES = 131_072  # 16 KiB: the spec's minimum, for herd privacy


def encode(revoked: Iterable[int], size: int = MIN_ENTRIES) -> str:
    if size < MIN_ENTRIES or size % 8:
        raise ValueError(f"a status list has at least {MIN_ENTRIES} entries, a multiple of 8")
    bits = bytearray(size // 8)
    for index in revoked:
        if not 0 <= index < size:
            raise ValueError(f"status index {index} outside the list of {size}")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same list always encodes to the same text.
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode().rstrip("=")


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("expected multibase base64url ('u...')")
    body = encoded[1:]
    return gzip.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def is_set(bitstring: bytes, index: int) -> bool:
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))
