"""The registry as tests drive it: a running instance, request bodies, CSV uploads."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from stdnum.th import pin

from shared.runtime import Service
from tests.support.waiting import eventually

HEADER = (
    "national_id,first_name_th,last_name_th,birth_date,province_code,village_code,"
    "household_code,monthly_income,phone\n"
)


@dataclass
class RunningRegistry:
    service: Service
    client: httpx.AsyncClient  # authenticated with the bootstrap admin key
    admin_key: str

    def anonymous(self) -> httpx.AsyncClient:
        """A client without a key (close it yourself)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.app), base_url="http://registry"
        )


def national_id() -> str:
    """A random Thai national ID with a valid check digit."""
    body = "3" + "".join(secrets.choice("0123456789") for _ in range(11))
    return body + pin.calc_check_digit(body)


def person(**overrides: Any) -> dict[str, Any]:
    """A POST /people body: a valid person with a fresh national ID."""
    body: dict[str, Any] = {
        "national_id": national_id(),
        "first_name_th": "มาลี",
        "last_name_th": "ศรีสุข",
        "first_name_en": "Malee",
        "last_name_en": "Srisuk",
        "birth_date": "12/05/2530",
        "sex": "female",
        "phone": "0812345678",
        "address": {
            "house_no": "99/1",
            "subdistrict": "ไผ่ใหญ่",
            "district": "ม่วงสามสิบ",
            "province_code": "34",
        },
    }
    body.update(overrides)
    return body


async def _pieces(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as file:
        while piece := file.read(256 * 1024):
            yield piece


async def upload(client: httpx.AsyncClient, path: Path) -> dict[str, Any]:
    """POST a CSV file to /imports in pieces; the queued job."""
    response = await client.post(
        "/imports",
        params={"file_name": path.name},
        content=_pieces(path),
        headers={"Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] == "queued"
    return job


async def finished(client: httpx.AsyncClient, import_id: str, timeout: float) -> dict[str, Any]:
    """The import job once it is done (failing if it failed or took longer than `timeout`)."""

    async def probe() -> dict[str, Any]:
        response = await client.get(f"/imports/{import_id}")
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job

    job = await eventually(
        probe, lambda j: j["status"] in ("done", "failed"), timeout=timeout, what="import done"
    )
    assert job["status"] == "done", job
    return job
