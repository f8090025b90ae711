"""Drives a scenario through the services' HTTP APIs, as programme staff would.

Each trainee: registered (with or without consent) -> enrolled -> completed or not ->
assessed (pass or fail). Referrals then follow from events alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import httpx

from deploy.pilot import Scenario, Trainee

T = TypeVar("T")
Progress = Callable[[str], None]


class SeedError(RuntimeError):
    pass


async def _gather_limited(
    items: Iterable[T],
    work: Callable[[T], Awaitable[Any]],
    limit: int,
    label: str,
    progress: Progress,
) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)
    todo = list(items)
    done = 0
    started = time.monotonic()

    async def one(item: T) -> Any:
        nonlocal done
        async with semaphore:
            result = await work(item)
        done += 1
        if done % 500 == 0 or done == len(todo):
            rate = done / max(time.monotonic() - started, 1e-6)
            progress(f"  {label}: {done}/{len(todo)} ({rate:.0f}/s)")
        return result

    return list(await asyncio.gather(*(one(item) for item in todo)))


def _expect(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in ok:
        raise SeedError(
            f"{response.request.method} {response.request.url} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    deadline: float,
    *,
    retry_404: bool = False,
) -> httpx.Response:
    """POST, retrying while the service is unreachable (restarting) or, if asked, while it
    has not yet replicated the person (404). A retried POST may have been applied already:
    callers accept the 409 that says so, which carries the existing id."""
    delay = 0.05
    while True:
        try:
            response = await client.post(url, json=body)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        else:
            if not (retry_404 and response.status_code == 404) or time.monotonic() > deadline:
                return response
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)


async def configure_lenders(client: httpx.AsyncClient, funding: str, scenario: Scenario) -> None:
    for product in scenario.products:
        _expect(
            await client.post(
                f"{funding}/lenders",
                json={"code": product.lender_code, "name": product.lender_name},
            ),
            201,
            409,
        )
        _expect(
            await client.post(
                f"{funding}/products",
                json={
                    "code": product.product_code,
                    "lender_code": product.lender_code,
                    "name": product.product_name,
                    "rule": {
                        "occupations": list(product.occupations),
                        "min_level": product.min_level,
                    },
                },
            ),
            201,
            409,
        )


def cohort_of(scenario: Scenario, trainee: Trainee) -> str:
    return f"{scenario.programme_code}-{trainee.estate_code}-{trainee.occupation}"[:64]


async def run_journeys(
    urls: Mapping[str, str],
    scenario: Scenario,
    *,
    api_key: str,
    concurrency: int = 16,
    replication_timeout: float = 120,
    progress: Progress = print,
) -> dict[str, str]:
    """Seed the scenario with an operator's key; returns national ID -> person_id."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=headers) as client:
        await configure_lenders(client, urls["funding"], scenario)
        deadline = time.monotonic() + replication_timeout

        async def register(trainee: Trainee) -> str:
            consents = [{"purpose": "loan-referral"}] if trainee.consents_to_lenders else []
            person = {
                "national_id": trainee.national_id,
                "first_name_th": trainee.first_name,
                "last_name_th": trainee.last_name,
                "birth_date": trainee.birth_date.isoformat(),
                "address": {"province_code": trainee.province_code},
                "consents": consents,
            }
            body = _expect(
                await _post(client, f"{urls['registry']}/people", person, deadline), 201, 409
            )
            return str(body.get("person_id") or body["existing_person_id"])

        person_ids = await _gather_limited(
            scenario.trainees, register, concurrency, "registered", progress
        )
        by_id = {t.national_id: pid for t, pid in zip(scenario.trainees, person_ids, strict=True)}

        async def train(trainee: Trainee) -> None:
            person_id = by_id[trainee.national_id]
            enrolment_request = {
                "person_id": person_id,
                "programme_code": scenario.programme_code,
                "cohort_code": cohort_of(scenario, trainee),
                "occupation": trainee.occupation,
            }
            enrolment = _expect(
                await _post(
                    client,
                    f"{urls['training']}/enrolments",
                    enrolment_request,
                    deadline,
                    retry_404=True,
                ),
                201,
                409,
            )
            enrolment_id = enrolment.get("enrolment_id") or enrolment["existing_enrolment_id"]
            base = f"{urls['training']}/enrolments/{enrolment_id}"
            if not trainee.completes:
                outcome = {"reason": "left before day 5"}
                _expect(await _post(client, f"{base}/non-completion", outcome, deadline), 200, 409)
                return
            _expect(await _post(client, f"{base}/completion", {"hours": 30}, deadline), 200, 409)
            assessment = {
                "person_id": person_id,
                "occupation": trainee.occupation,
                "level": trainee.level,
                "passed": trainee.passes,
            }
            # Certificates are unique per person, occupation and level: a retry awards once.
            _expect(
                await _post(client, f"{urls['certification']}/assessments", assessment, deadline),
                201,
            )

        await _gather_limited(scenario.trainees, train, concurrency, "trained+assessed", progress)
        return by_id
