"""Signed-in page sessions, kept on the server.

The cookie holds a random token; the table holds only its SHA-256 (like `api_key`), so
reading the table gives nobody a session. Kept server-side rather than as an HMAC-signed
cookie so that signing out, or revoking the key the person signed in with, ends the session
at once (a signed cookie stays good until it expires), and a restart signs nobody out.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from services.dashboard.tables import Base
from shared.db import UtcDateTime


class PageSession(Base, table=True):
    __tablename__ = "page_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    key_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
