"""The funnel per programme, counted here from the raw records on the broadcast topics, apart
from the dashboard's own consumer: the browser tests compare the page with it.

A person counts once per stage and programme. Applications, enrolments and completions name
their programme; a certificate belongs to the programme whose training the person completed
for that occupation; a referral to the programme of the certificate it names; a lender's
answers to the programme of the referral they answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import httpx

from deploy.clients.base import auth_headers
from deploy.stack.launcher import Stack
from deploy.stack.topics import Observed, distinct, read_topics
from shared import events
from shared.topics import BROADCAST_TOPICS

# The funnel's stages, in order (services/dashboard/schemas.py STAGES is the page's list).
STAGES = (
    "registered",
    "applied",
    "enrolled",
    "completed",
    "certified",
    "referred",
    "acknowledged",
    "approved",
    "disbursed",
)
Funnels = dict[str, dict[str, int]]  # programme code -> stage -> people


def funnels(observed: Iterable[Observed]) -> Funnels:
    records = [o for o in distinct(observed) if o.topic in BROADCAST_TOPICS]

    def of(event: type[events.Event]) -> list[dict[str, object]]:
        return [o.data for o in records if o.ce_type == event.ce_type()]

    people: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    registered = {str(d["person_id"]) for d in of(events.PersonRegistered)}
    for stage, event in (
        ("applied", events.LearnerApplied),
        ("enrolled", events.LearnerEnrolled),
        ("completed", events.TrainingCompleted),
    ):
        for d in of(event):
            people[str(d["programme_code"])][stage].add(str(d["person_id"]))
    for stages in people.values():
        stages["registered"] = stages["applied"] & registered

    trained_for = {  # (person, occupation) -> programme
        (str(d["person_id"]), str(d["occupation"])): str(d["programme_code"])
        for d in of(events.TrainingCompleted)
    }
    certificate_programme: dict[str, str] = {}
    for d in of(events.QualificationAwarded):
        programme = trained_for.get((str(d["person_id"]), str(d["occupation"])))
        if programme is not None:
            certificate_programme[str(d["certificate_number"])] = programme
            people[programme]["certified"].add(str(d["person_id"]))

    referral_programme: dict[str, str] = {}
    for event in (events.LoanReferralCreated, events.LoanReferralHeld):
        for d in of(event):
            programme = certificate_programme.get(str(d["certificate_number"]))
            if programme is not None:
                referral_programme[str(d["referral_id"])] = programme
                if event is events.LoanReferralCreated:
                    people[programme]["referred"].add(str(d["person_id"]))
    for stage, answer in (
        ("acknowledged", events.LoanReferralAcknowledged),
        ("approved", events.LoanApproved),
        ("disbursed", events.LoanDisbursed),
    ):
        for d in of(answer):
            programme = referral_programme.get(str(d["referral_id"]))
            if programme is not None:
                people[programme][stage].add(str(d["person_id"]))
    return {
        programme: {stage: len(stages[stage]) for stage in STAGES}
        for programme, stages in people.items()
    }


async def topic_funnels(stack: Stack) -> Funnels:
    """The funnels of what the broadcast topics carry now."""
    return funnels(await read_topics(stack.bootstrap, list(BROADCAST_TOPICS)))


async def dashboard_funnels(stack: Stack, key: str) -> Funnels:
    """What the dashboard's JSON says, per programme, in the reader's shape."""
    async with httpx.AsyncClient(timeout=10, headers=auth_headers(key)) as client:
        response = await client.get(f"{stack.url('dashboard')}/api/figures/funnel")
        response.raise_for_status()
    return {
        row["programme_code"]: {s["stage"]: s["people"] for s in row["stages"]}
        for row in response.json()["programmes"]
    }
