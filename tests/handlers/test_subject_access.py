"""PDPA subject access per service (`GET /people/{id}/held`'s use case): a person with an
application, a certificate or a referral finds them in the document; after PersonErased the
part says erased and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from services.certification.handlers import subject_access as certification
from services.certification.schemas import CertificationHeld
from services.funding.api import partner
from services.funding.handlers import subject_access as funding
from services.funding.schemas import FundingHeld
from services.funding.tables import Referral
from services.training.handlers import completion, seats
from services.training.handlers import subject_access as training
from services.training.schemas import TrainingHeld
from shared.db import Database
from shared.events import PersonErased, PersonMerged
from shared.subject_access import Erased, Merged
from tests.handlers import test_certification as cert_cases
from tests.handlers import test_funding as funding_cases
from tests.handlers import test_training as training_cases
from tests.support.funding import award, consent_granted, shared_data


def erased(person_id: str) -> PersonErased:
    return PersonErased(person_id=person_id, erased_at=datetime.now(UTC))


async def test_training_holds_the_application_with_its_ranking_inputs_and_attendance(
    training_db: Database,
) -> None:
    await training_cases.cohort(training_db, "K-1", capacity=5)
    person_id, other = await training_cases.registered(training_db, 2)
    async with training_db.transaction() as session:
        for someone in (person_id, other):
            await seats.apply(session, "K-1", someone)
        await seats.run_selection(session, "K-1")
        await completion.record_attendance(
            session,
            "K-1",
            [completion.Mark(person_id, training_cases.STARTED + timedelta(days=1), True)],
        )
    async with training_db.transaction() as session:
        document = await training.held(session, person_id)
    assert isinstance(document, TrainingHeld)
    assert document.person is not None and document.person.province_code == "34"
    (application,) = document.applications  # the other person's is not in it
    assert (application.cohort_code, application.programme_code, application.status) == (
        "K-1",
        "P-1",
        "enrolled",
    )
    assert application.rank is not None and application.province_code == "34"
    assert [(a.day, a.present) for a in document.attendance] == [
        (training_cases.STARTED + timedelta(days=1), True)
    ]

    gone = erased(person_id)
    async with training_db.transaction() as session:
        await training_cases.consume(session, gone)
    async with training_db.transaction() as session:
        after = await training.held(session, person_id)
    assert after == Erased(erased_at=gone.erased_at)


async def test_certification_holds_the_certificate_and_the_assessment_until_erased(
    certification_db: Database,
) -> None:
    person_id = "5f0c2a8e-0000-4000-8000-000000000001"
    await cert_cases.assessment_session(certification_db, "S-1")
    await cert_cases.trained(certification_db, person_id)
    await cert_cases.assess(
        certification_db, "S-1", person_id, dict.fromkeys(cert_cases.UNITS, True)
    )
    async with certification_db.transaction() as session:
        document = await certification.held(session, person_id)
    assert isinstance(document, CertificationHeld)
    assert document.holder is not None and document.holder.full_name == "มาลี ศรีสุข"
    (certificate,) = document.certificates
    assert (certificate.occupation, certificate.level) == (cert_cases.OCCUPATION, cert_cases.LEVEL)
    assert certificate.revoked_at is None
    (assessment,) = document.assessments
    assert assessment.passed and assessment.certificate_number == certificate.certificate_number
    assert [r.occupation for r in document.training_records] == [cert_cases.OCCUPATION]

    event = erased(person_id)
    async with certification_db.transaction() as session:
        await cert_cases.consume(session, event)
    async with certification_db.transaction() as session:
        after = await certification.held(session, person_id)
    assert after == Erased(erased_at=event.erased_at)


async def test_funding_holds_the_referral_and_records_which_lender_received_which_categories(
    funding_db: Database,
) -> None:
    someone = await funding_cases.seeded(funding_db)
    granted = consent_granted(someone.person_id, "gsb", ["contact"])
    await funding_cases.consume(
        funding_db, granted, shared_data(granted), award(someone, "health-massage", 2)
    )
    async with funding_db.transaction() as session:
        document = await funding.held(session, someone.person_id)
    assert isinstance(document, FundingHeld)
    assert {(r.lender_code, r.product_code, r.status) for r in document.referrals} == {
        ("gsb", "gsb-occupation-loan", "created"),
        ("tcg", "tcg-micro-guarantee", "held"),  # no consent covers tcg: nothing shared
    }
    assert [(c.lender_code, c.data_categories) for c in document.consents] == [("gsb", ["contact"])]
    assert document.shared_data[0].data["phone"] == "0812345678"
    (disclosure,) = document.disclosures
    sent = next(r for r in document.referrals if r.lender_code == "gsb")
    assert (disclosure.lender_code, disclosure.categories, disclosure.via) == (
        "gsb",
        ["contact"],
        "topic",
    )
    assert disclosure.referral_id == sent.referral_id and disclosure.shared_at == sent.sent_at

    gone = erased(someone.person_id)
    await funding_cases.consume(funding_db, gone)
    async with funding_db.transaction() as session:
        after = await funding.held(session, someone.person_id)
    assert after == Erased(erased_at=gone.erased_at)


async def test_a_person_a_service_never_saw_gets_an_empty_document(funding_db: Database) -> None:
    async with funding_db.transaction() as session:
        document = await funding.held(session, "never-seen")
    assert isinstance(document, FundingHeld)
    assert document.person is None and document.referrals == [] and document.disclosures == []


async def test_a_lender_reading_the_referral_through_its_api_is_recorded_too(
    funding_db: Database,
) -> None:
    someone = await funding_cases.seeded(funding_db)
    granted = consent_granted(someone.person_id, "gsb", ["contact"])
    await funding_cases.consume(
        funding_db, granted, shared_data(granted), award(someone, "health-massage", 2)
    )
    async with funding_db.transaction() as session:
        (referral,) = (
            await session.exec(select(Referral).where(Referral.lender_code == "gsb"))
        ).all()
        answer = await partner.partner_out(session, referral, datetime.now(UTC))
    assert answer.applicant is not None and answer.applicant.phone == "0812345678"
    async with funding_db.transaction() as session:
        document = await funding.held(session, someone.person_id)
    assert isinstance(document, FundingHeld)
    assert [(d.lender_code, d.via, d.categories) for d in document.disclosures] == [
        ("gsb", "topic", ["contact"]),
        ("gsb", "api", ["contact"]),
    ]


async def test_a_merged_person_points_to_the_survivor(training_db: Database) -> None:
    retired, survivor = await training_cases.registered(training_db, 2)
    merged = PersonMerged(person_id=retired, survivor_id=survivor, merged_at=datetime.now(UTC))
    async with training_db.transaction() as session:
        await training_cases.consume(session, merged)
    async with training_db.transaction() as session:
        assert await training.held(session, retired) == Merged(survivor_id=survivor)
