"""`python -m services.certification`: the one place that wires the service."""

from __future__ import annotations

from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession

from services.certification import api, consumers, tables
from services.certification.credentials import Issuer
from services.certification.handlers import certificates, standards
from services.certification.handlers.certificates import Issuing
from services.certification.handlers.keys import Keyring
from services.certification.ratelimit import RateLimit
from services.certification.settings import CertificationSettings
from shared.runtime import Service


def build(settings: CertificationSettings | None = None) -> Service:
    settings = settings or CertificationSettings()
    issuing = Issuing(
        issuer=Issuer(public_url=settings.base_url, name=settings.issuer_name),
        status_list_size=settings.status_list_size,
        renewal_window_days=settings.renewal_window_days,
    )
    service = Service(
        name="certification", settings=settings, tables=tables, handlers=consumers.bound(issuing)
    )
    keyring = Keyring()
    service.startup_hooks.append(partial(keyring.load, service.db, settings.signing_key_pem()))
    service.startup_hooks.append(partial(standards.load_shipped, service.db))
    limit = RateLimit(settings.verify_rate_limit, trust_forwarded_for=settings.trust_forwarded_for)
    # What the routers' dependencies (api/deps.py) read back.
    service.app.state.issuing = issuing
    service.app.state.keyring = keyring
    service.app.state.rate_limit = limit
    api.install(service.app)

    async def expire_page(session: AsyncSession, size: int) -> int:
        return await certificates.expire_due(session, limit=size)

    # Runs at start too, so a certificate that expired while the service was down is told.
    service.sweep("certificate expiry", settings.expiry_sweep_seconds, expire_page, 500)
    return service


if __name__ == "__main__":
    build().run()
