"""Operators: lenders, products, rule versions (draft, dry run, publish)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from services.funding.api.deps import EnsureTopics
from services.funding.handlers import catalogue, dryrun, lookups
from services.funding.schemas import (
    CandidateOut,
    DryRunOut,
    LenderIn,
    LenderOut,
    ProductIn,
    ProductOut,
    RuleVersionIn,
    RuleVersionOut,
)
from services.funding.tables import Lender, Product, RuleVersion
from shared.auth import Db, ReadKey, WriteKey
from shared.topics import partner_topic
from shared.types import Version


def _lender(row: Lender) -> LenderOut:
    return LenderOut(code=row.code, name=row.name, kind=row.kind, topic=partner_topic(row.code))


def _product(row: Product, versions: list[RuleVersion]) -> ProductOut:
    live = next((v.version for v in versions if v.status == catalogue.LIVE), None)
    return ProductOut(
        code=row.code,
        lender_code=row.lender_code,
        name=row.name,
        created_at=row.created_at,
        live_version=live,
        versions=[RuleVersionOut.of(v) for v in versions],
    )


router = APIRouter(tags=["lenders and products"])


@router.post("/lenders", status_code=201, response_model=LenderOut)
async def create_lender(
    body: LenderIn, _: WriteKey, db: Db, ensure_topics: EnsureTopics
) -> LenderOut:
    async with db.transaction() as session:
        row = await catalogue.create_lender(session, body.code, body.name, body.kind)
    await ensure_topics([partner_topic(body.code)])
    return _lender(row)


@router.get("/lenders", response_model=list[LenderOut])
async def list_lenders(_: ReadKey, db: Db) -> list[LenderOut]:
    async with db.transaction() as session:
        rows = await lookups.lenders(session)
    return [_lender(r) for r in rows]


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(body: ProductIn, _: WriteKey, db: Db) -> ProductOut:
    """A product with its rules as version 1, a draft: dry-run it, then publish it."""
    async with db.transaction() as session:
        row, version = await catalogue.create_product(
            session, body.code, body.lender_code, body.name, body.rules, now=datetime.now(UTC)
        )
        return _product(row, [version])


@router.get("/products", response_model=list[ProductOut])
async def list_products(_: ReadKey, db: Db) -> list[ProductOut]:
    async with db.transaction() as session:
        rows = await lookups.products(session)
        return [_product(p, await catalogue.versions(session, p.code)) for p in rows]


@router.get("/products/{code}", response_model=ProductOut)
async def read_product(code: str, _: ReadKey, db: Db) -> ProductOut:
    async with db.transaction() as session:
        row = await catalogue.product(session, code)
        return _product(row, await catalogue.versions(session, code))


@router.post("/products/{code}/rules", status_code=201, response_model=RuleVersionOut)
async def add_rules(code: str, body: RuleVersionIn, _: WriteKey, db: Db) -> RuleVersionOut:
    """A new draft version of the product's rules (the live one stays live)."""
    async with db.transaction() as session:
        row = await catalogue.add_draft(session, code, body.rules, body.note, now=datetime.now(UTC))
        return RuleVersionOut.of(row)


@router.get("/products/{code}/rules/{version}", response_model=RuleVersionOut)
async def read_rules(code: str, version: Version, _: ReadKey, db: Db) -> RuleVersionOut:
    async with db.transaction() as session:
        return RuleVersionOut.of(await catalogue.rule_version(session, code, version))


@router.post("/products/{code}/rules/{version}/dry-run", response_model=DryRunOut)
async def dry_run(code: str, version: Version, _: ReadKey, db: Db) -> DryRunOut:
    """Who this version would refer (or hold for consent) over every qualification known,
    and why not the others. Changes nothing."""
    async with db.transaction() as session:
        result = await dryrun.dry_run(session, code, version)
    return DryRunOut(
        product_code=code,
        version=version,
        evaluated=result.evaluated,
        would_refer=sum(not c.held for c in result.referred),
        would_hold=sum(c.held for c in result.referred),
        referred=[CandidateOut(**c.__dict__) for c in result.referred],
        not_referred_by_clause=dict(sorted(result.failing_clauses.items())),
    )


@router.post("/products/{code}/rules/{version}/publish", response_model=RuleVersionOut)
async def publish(code: str, version: Version, who: WriteKey, db: Db) -> RuleVersionOut:
    """The draft goes live for every referral decided from now on; the previous live
    version retires. Referrals already made keep the version they were made under."""
    async with db.transaction() as session:
        return RuleVersionOut.of(
            await catalogue.publish(session, code, version, now=datetime.now(UTC), by=who)
        )
