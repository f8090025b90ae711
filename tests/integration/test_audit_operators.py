"""The operator actions every service shares (key routes, outbox replay) in its audit log,
over HTTP on the real app: the registry here, whose own entries keep their shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support import RunningRegistry, ok
from tests.support.registry import person


async def test_key_changes_and_replays_name_the_operator(registry: RunningRegistry) -> None:
    pid = ok(await registry.client.post("/people", json=person()), 201)["person_id"]
    [bootstrap] = [
        k for k in ok(await registry.client.get("/api-keys"), 200) if k["name"] == "bootstrap-admin"
    ]
    made = ok(await registry.client.post("/api-keys", json={"name": "ops-2", "role": "admin"}), 201)
    second = registry.client.headers.copy()
    second["Authorization"] = f"Bearer {made['token']}"
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    dry = await registry.client.post(
        "/admin/outbox/replay", params={"since": since, "dry_run": "true"}, headers=second
    )
    assert ok(dry, 200)["rows"] >= 1
    replayed = await registry.client.post(
        "/admin/outbox/replay", params={"since": since}, headers=second
    )
    rows = ok(replayed, 200)["rows"]
    ok(await registry.client.delete(f"/api-keys/{made['key_id']}"), 200)

    entries = ok(await registry.client.get("/audit", params={"after_id": 0}), 200)
    ours = [(e["actor"], e["actor_key_id"], e["action"], e["entity_id"]) for e in entries]
    assert ours == [
        ("bootstrap-admin", None, "person.registered", pid),  # the registry's own, as before
        ("bootstrap-admin", bootstrap["key_id"], "api-key.created", made["key_id"]),
        ("ops-2", made["key_id"], "outbox.replayed", "registry"),  # a dry run records nothing
        ("bootstrap-admin", bootstrap["key_id"], "api-key.revoked", made["key_id"]),
    ]
    assert entries[2]["detail"].startswith(f"{rows} outbox rows since ")
    only = ok(await registry.client.get("/audit", params={"action": "outbox.replayed"}), 200)
    assert [e["actor"] for e in only] == ["ops-2"]
