"""What the tests share, one module per concern: `http` (assertions, in-process clients),
`waiting` (deadlines), `topics` (reading and publishing on a broker), `stack` (brokers,
databases, whole stacks), `traces` (an OTLP collector), `outbox` (staged events), and one
module per service (`registry`, `training`, `funding`) with its running instance and
request data. The common names are re-exported here; a service's `person` is imported from
its own module (`tests.support.registry` or `tests.support.funding`)."""

from tests.support.http import admin_client, error_fields, ok
from tests.support.registry import RunningRegistry, national_id
from tests.support.stack import (
    POSTGRES,
    fresh_databases,
    make_stack,
    started_lender,
    started_stack,
    tansu,
)
from tests.support.topics import Upstream, topic_records
from tests.support.traces import TraceCollector
from tests.support.training import RunningTraining, training_counts
from tests.support.waiting import eventually, returning

__all__ = [
    "POSTGRES",
    "RunningRegistry",
    "RunningTraining",
    "TraceCollector",
    "Upstream",
    "admin_client",
    "error_fields",
    "eventually",
    "fresh_databases",
    "make_stack",
    "national_id",
    "ok",
    "returning",
    "started_lender",
    "started_stack",
    "tansu",
    "topic_records",
    "training_counts",
]
