"""Topics are created with the replication the settings ask for (deploy/k8s: replication
factor 3, min.insync.replicas 2). The embedded broker has one node and answers no
DescribeConfigs, so this checks the request goes through on a real broker; the values
deploy/k8s sets are checked in tests/unit/test_deploy_manifests.py."""

from __future__ import annotations

import uuid

from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka import ensure_topics


async def test_topics_are_created_with_a_min_insync_replicas_config(bootstrap: str) -> None:
    topic = f"replicated-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 2, replication_factor=1, min_insync_replicas=1)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == 0
    assert len(described["partitions"]) == 2
