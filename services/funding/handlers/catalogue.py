"""Lenders, products and their versioned rules (draft -> live -> retired), and the seed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.funding.domain import Rules
from services.funding.tables import AuditEntry, Lender, Outbox, Product, RuleVersion
from shared import audit
from shared.audit import Actor
from shared.db import get_or_404, lock_aggregate
from shared.envelope import source_of
from shared.errors import Conflict, DomainError, NotFound
from shared.events import LoanProductPublished
from shared.outbox import stage

SOURCE = source_of("funding")
CATALOGUE = Path(__file__).parent.parent / "data" / "catalogue.json"
DRAFT, LIVE, RETIRED = "draft", "live", "retired"
SEED_ACTOR = "seed"  # the audit log's actor for the catalogue installed at start-up

# Rule versions never change once written, so their parsed form can be kept.
_parsed: dict[tuple[str, int], Rules] = {}


def rules_of(version: RuleVersion) -> Rules:
    key = (version.product_code, version.version)
    if key not in _parsed:
        _parsed[key] = Rules.model_validate(version.rules)
    return _parsed[key]


@dataclass(frozen=True)
class LiveProduct:
    product: Product
    version: RuleVersion
    rules: Rules


async def live_products(session: AsyncSession) -> list[LiveProduct]:
    rows = await session.exec(
        select(Product, RuleVersion)
        .join(RuleVersion, col(RuleVersion.product_code) == col(Product.code))
        .where(RuleVersion.status == LIVE)
        .order_by(col(Product.code))
    )
    return [LiveProduct(p, v, rules_of(v)) for p, v in rows.all()]


async def create_lender(session: AsyncSession, code: str, name: str, kind: str) -> Lender:
    if await session.get(Lender, code) is not None:
        raise Conflict(f"lender {code} exists", field="code")
    lender = Lender(code=code, name=name, kind=kind)
    session.add(lender)
    return lender


async def ensure_lender(session: AsyncSession, code: str, name: str, kind: str) -> bool:
    """Add a lender the registry announced (OrganisationRegistered), or rename it."""
    lender = await session.get(Lender, code)
    if lender is None:
        session.add(Lender(code=code, name=name, kind=kind))
        return True
    lender.name, lender.kind = name, kind
    session.add(lender)
    return False


async def lender(session: AsyncSession, code: str) -> Lender:
    return await get_or_404(session, Lender, code, what="lender", field="lender_code", quoted=False)


async def lender_codes(session: AsyncSession) -> list[str]:
    return list((await session.exec(select(Lender.code))).all())


def validated(rules: dict[str, Any]) -> Rules:
    try:
        return Rules.model_validate(rules)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DomainError(f"rules.{where}: {first['msg']}", field=f"rules.{where}") from error


async def create_product(
    session: AsyncSession, code: str, lender_code: str, name: str, rules: Rules, *, now: datetime
) -> tuple[Product, RuleVersion]:
    """A product with its rules as version 1, a draft: dry-run it, then publish it."""
    await lender(session, lender_code)
    if await session.get(Product, code) is not None:
        raise Conflict(f"product {code} exists", field="code")
    product = Product(code=code, lender_code=lender_code, name=name, created_at=now)
    session.add(product)
    await session.flush()
    version = RuleVersion(
        product_code=code, version=1, status=DRAFT, rules=rules.model_dump(), created_at=now
    )
    session.add(version)
    return product, version


async def product(session: AsyncSession, code: str) -> Product:
    return await get_or_404(
        session, Product, code, what="product", field="product_code", quoted=False
    )


async def versions(session: AsyncSession, code: str) -> list[RuleVersion]:
    rows = await session.exec(
        select(RuleVersion)
        .where(RuleVersion.product_code == code)
        .order_by(col(RuleVersion.version))
    )
    return list(rows.all())


async def add_draft(
    session: AsyncSession, code: str, rules: Rules, note: str | None, *, now: datetime
) -> RuleVersion:
    await product(session, code)
    await lock_aggregate(session, f"funding:product:{code}")
    latest = (
        await session.exec(
            select(func.max(RuleVersion.version)).where(RuleVersion.product_code == code)
        )
    ).one()
    version = RuleVersion(
        product_code=code,
        version=int(latest or 0) + 1,
        status=DRAFT,
        rules=rules.model_dump(),
        note=note,
        created_at=now,
    )
    session.add(version)
    return version


async def rule_version(session: AsyncSession, code: str, number: int) -> RuleVersion:
    found = await session.get(RuleVersion, (code, number))
    if found is None:
        raise NotFound(f"product {code} has no rule version {number}", field="version")
    return found


async def publish(
    session: AsyncSession, code: str, number: int, *, now: datetime, by: Actor | str
) -> RuleVersion:
    """The draft goes live; the version live until now retires (exactly one live). `by` is
    recorded in the audit log."""
    await lock_aggregate(session, f"funding:product:{code}")
    version = await rule_version(session, code, number)
    if version.status != DRAFT:
        raise Conflict(f"version {number} is {version.status}; only a draft can go live")
    current = (
        await session.exec(
            select(RuleVersion).where(RuleVersion.product_code == code, RuleVersion.status == LIVE)
        )
    ).first()
    if current is not None:
        current.status, current.retired_at = RETIRED, now
        session.add(current)
        await session.flush()  # the one-live index must see the retirement first
    version.status, version.published_at = LIVE, now
    session.add(version)
    item = await product(session, code)
    owner = await lender(session, item.lender_code)
    stage(
        session,
        Outbox,
        LoanProductPublished(
            product_code=code,
            lender_code=owner.code,
            lender_name=owner.name,
            name=item.name,
            rule_version=number,
            sla_days=rules_of(version).sla_days,
            published_at=now,
        ),
        source=SOURCE,
    )
    retired = f"; version {current.version} retired" if current is not None else ""
    audit.record(
        session,
        AuditEntry,
        by,
        "rule.published",
        ("product", code),
        fields=["status", "published_at"],
        detail=f"rule version {number} live{retired}",
    )
    return version


def load_seed(path: Path = CATALOGUE) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


async def seed(session: AsyncSession, document: dict[str, Any]) -> int:
    """Install the seed's lenders and products that are absent; returns products added."""
    now = datetime.now(UTC)
    for entry in document["lenders"]:
        if await session.get(Lender, entry["code"]) is None:
            session.add(Lender(code=entry["code"], name=entry["name"], kind=entry["kind"]))
    await session.flush()
    added = 0
    for entry in document["products"]:
        if await session.get(Product, entry["code"]) is not None:
            continue
        rules = validated(entry["rules"])
        await create_product(
            session, entry["code"], entry["lender_code"], entry["name"], rules, now=now
        )
        await session.flush()
        await publish(session, entry["code"], 1, now=now, by=SEED_ACTOR)
        added += 1
    return added
