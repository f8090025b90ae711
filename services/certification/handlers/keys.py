"""The signing key: the operator's (settings) or one generated on first start and kept in
the service's database, so every replica and every restart signs with the same key.
Every key ever used is published, so credentials signed before a change still verify."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import col, select

from services.certification import signing
from services.certification.tables import SigningKey
from shared.db import Database, lock_aggregate


@dataclass
class Keyring:
    """Filled at start-up (`load`); read by the public routes."""

    active: signing.Key | None = None
    published: list[tuple[str, str]] = field(default_factory=list)  # (key id, Multikey)

    @property
    def key(self) -> signing.Key:
        if self.active is None:
            raise RuntimeError("signing key not loaded (the service has not started)")
        return self.active

    def public_key(self, key_id: str) -> bytes | None:
        for kid, public in self.published:
            if kid == key_id:
                return signing.public_key_of(public)
        return None

    async def load(self, db: Database, configured_pem: bytes | None) -> None:
        async with db.transaction() as session:
            # Two replicas starting on an empty database must not make two keys.
            await lock_aggregate(session, "certification:signing-key")
            if configured_pem is not None:
                key = signing.Key.from_pem(configured_pem)
                if await session.get(SigningKey, key.key_id) is None:
                    session.add(_row(key, private_pem=None))  # the secret stays in settings
            else:
                stored = (
                    await session.exec(
                        select(SigningKey)
                        .where(col(SigningKey.private_pem).is_not(None))
                        .order_by(col(SigningKey.created_at).desc())
                    )
                ).first()
                if stored is not None and stored.private_pem is not None:
                    key = signing.Key.from_pem(stored.private_pem.encode())
                else:
                    key = signing.Key.generate()
                    session.add(_row(key, private_pem=key.to_pem().decode()))
            await session.flush()
            rows = (
                await session.exec(select(SigningKey).order_by(col(SigningKey.created_at)))
            ).all()
            self.published = [(row.key_id, row.public_multibase) for row in rows]
        self.active = key


def _row(key: signing.Key, *, private_pem: str | None) -> SigningKey:
    return SigningKey(
        key_id=key.key_id,
        public_multibase=signing.multikey(key.public),
        private_pem=private_pem,
        created_at=datetime.now(UTC),
    )
