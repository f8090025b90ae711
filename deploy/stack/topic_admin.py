"""`skillbridge topics create|describe`: shared.topics' table applied to a broker, and the
broker's topics compared with it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from shared.kafka import client_options
from shared.topics import TopicSpec


@dataclass(frozen=True)
class TopicState:
    """A topic as the broker has it (None: the broker did not say)."""

    name: str
    exists: bool
    partitions: int | None = None
    replication_factor: int | None = None
    retention_ms: int | None = None
    min_insync_replicas: int | None = None


@dataclass(frozen=True)
class Comparison:
    spec: TopicSpec
    state: TopicState

    @property
    def differences(self) -> list[str]:
        """Where the broker differs from the table (a value it did not report is no
        difference: some brokers leave defaults out)."""
        if not self.state.exists:
            return ["missing"]
        wanted = {
            "partitions": self.spec.partitions,
            "replication_factor": self.spec.replication_factor,
            "retention_ms": self.spec.retention_ms,
            "min_insync_replicas": self.spec.min_insync_replicas,
        }
        return [
            f"{name} {have} (table: {want})"
            for name, want in wanted.items()
            if (have := getattr(self.state, name)) is not None and have != want
        ]

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.spec.name,
            "kind": self.spec.kind,
            "table": {**asdict(self.spec), "retention_ms": self.spec.retention_ms},
            "broker": asdict(self.state),
            "differences": self.differences,
        }


def compare(specs: Sequence[TopicSpec], states: Iterable[TopicState]) -> list[Comparison]:
    by_name = {s.name: s for s in states}
    return [
        Comparison(spec, by_name.get(spec.name, TopicState(spec.name, False))) for spec in specs
    ]


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


class TopicAdmin:
    """The admin client, started and closed by `async with`."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())

    async def __aenter__(self) -> TopicAdmin:
        await self.admin.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.admin.close()

    async def brokers(self) -> int:
        cluster = await self.admin.describe_cluster()
        return len(cluster.get("brokers") or []) or 1

    async def states(self, names: Sequence[str]) -> list[TopicState]:
        existing = set(await self.admin.list_topics())
        present = [n for n in names if n in existing]
        if not present:
            return []
        # All topics, not by name: asking for one by name may auto-create it on Kafka.
        described = {t["topic"]: t for t in await self.admin.describe_topics()}
        answers = await self.admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in present]
        )
        configs: dict[str, dict[str, str]] = {}
        for answer in answers:
            for resource in answer.resources:
                _code, _message, _type, name, entries = resource[:5]
                configs[name] = {e[0]: e[1] for e in entries}
        states = []
        for name in present:
            partitions = described.get(name, {}).get("partitions") or []
            config = configs.get(name, {})
            states.append(
                TopicState(
                    name,
                    True,
                    partitions=len(partitions) or None,
                    replication_factor=max((len(p["replicas"]) for p in partitions), default=None),
                    retention_ms=_int(config.get("retention.ms")),
                    min_insync_replicas=_int(config.get("min.insync.replicas")),
                )
            )
        return states

    async def create(
        self, specs: Sequence[TopicSpec], progress: Callable[[str, bool], None]
    ) -> list[str]:
        """Create the topics the broker lacks (existing ones are left alone: `describe` shows
        how they differ); `progress(name, created)` after each. Returns those created."""
        existing = set(await self.admin.list_topics())
        created = []
        for spec in specs:
            if spec.name in existing:
                progress(spec.name, False)
                continue
            topic = NewTopic(
                spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.configs()
            )
            response = await self.admin.create_topics([topic])
            for name, code, message in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise RuntimeError(f"cannot create topic {name}: error {code} {message}")
            created.append(spec.name)
            progress(spec.name, True)
        return created
