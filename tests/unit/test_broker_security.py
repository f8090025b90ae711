"""Broker security without a broker: the settings' combinations, what each client library is
given, and the ACL table (docs/decisions/0014)."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
)
from faststream.security import SASLScram512
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack import acls
from deploy.stack.kcat import security_file
from deploy.stack.launcher import Stack
from shared import events
from shared.acls import Grant, allowed, partner_principal, service_grants, service_principal
from shared.kafka import broker_security, client_options, librdkafka_config, make_broker
from shared.settings import KafkaSecurity, ServiceSettings
from shared.topics import (
    BROADCAST_TOPICS,
    CERTIFICATION,
    FUNDING,
    REGISTRY,
    TRAINING,
    dlq_topic,
    partner_topic,
    private_topic,
)

PRIVATE = private_topic("registry", "funding")


def security(**values: Any) -> KafkaSecurity:
    return KafkaSecurity.model_validate(values)


# --- settings -------------------------------------------------------------------------------


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert broker_security(security()) is None
    assert client_options(security()) == {}
    assert librdkafka_config(security()) == {"security.protocol": "PLAINTEXT"}


def test_settings_are_read_from_the_unprefixed_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "funding")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")

    class FundingLike(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="FUNDING_")

    settings = FundingLike()
    assert settings.kafka_sasl_username == "funding"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-512"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME"),
        (
            {"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "registry"},
            "needs KAFKA_SASL_PASSWORD",
        ),
        ({"kafka_sasl_username": "registry", "kafka_sasl_password": "x"}, "use SASL_SSL"),
        ({"kafka_ssl_cafile": "/etc/hostname"}, "use SSL or SASL_SSL"),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "/etc/hostname"},
            "go together",
        ),
        (
            {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/no/such/ca.pem"},
            "no such file",
        ),
        ({"kafka_security_protocol": "SASL_TLS"}, "kafka_security_protocol"),
        ({"kafka_sasl_mechanism": "GSSAPI"}, "kafka_sasl_mechanism"),
    ],
)
def test_inconsistent_settings_are_refused_with_a_clear_error(
    values: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        security(**values)


def test_sasl_ssl_scram_gives_every_client_the_same_connection(tmp_path: Path) -> None:
    ca = _self_signed_ca(tmp_path)
    settings = security(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="certification",
        kafka_sasl_password="pw",
        kafka_ssl_cafile=str(ca),
    )
    faststream = broker_security(settings)
    assert isinstance(faststream, SASLScram512)
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "certification"
    assert options["sasl_plain_password"] == "pw"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert librdkafka_config(settings) == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "certification",
        "sasl.password": "pw",
        "ssl.ca.location": str(ca),
    }


def test_tls_without_sasl_still_verifies_the_broker() -> None:
    options = client_options(security(kafka_security_protocol="SSL"))
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "sasl_mechanism" not in options


def test_the_services_broker_is_built_with_the_security() -> None:
    settings = ServiceSettings.model_validate(
        {
            "kafka_security_protocol": "SASL_PLAINTEXT",
            "kafka_sasl_mechanism": "SCRAM-SHA-256",
            "kafka_sasl_username": "training",
            "kafka_sasl_password": "pw",
        }
    )
    broker = make_broker(settings)
    connection = broker._connection_kwargs  # what FastStream hands aiokafka on connect
    assert connection["security_protocol"] == "SASL_PLAINTEXT"
    assert connection["sasl_mechanism"] == "SCRAM-SHA-256"
    assert connection["sasl_plain_username"] == "training"


def test_kcat_gets_the_password_in_a_private_file_not_on_its_command_line(
    tmp_path: Path,
) -> None:
    config = {"security.protocol": "SASL_SSL", "sasl.username": "admin", "sasl.password": "pw"}
    path = security_file(tmp_path, config)
    assert path is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sasl.password=pw\n" in path.read_text()
    assert security_file(tmp_path, {"security.protocol": "PLAINTEXT"}) is None


# --- the ACL table --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table() -> list[Grant]:
    return acls.table(["gsb", "smed"])


def test_only_funding_reads_the_private_topic(table: list[Grant]) -> None:
    readers = {g.principal for g in table if g.name == PRIVATE and g.operation == "READ"}
    # Its producer reads it back only to count what the broker kept (replay after a loss).
    assert readers == {service_principal("funding"), service_principal("registry")}
    assert not allowed(table, service_principal("training"), "TOPIC", PRIVATE, "READ")
    assert allowed(table, service_principal("registry"), "TOPIC", PRIVATE, "WRITE")
    assert not allowed(table, service_principal("funding"), "TOPIC", PRIVATE, "WRITE")


def test_each_service_writes_only_its_own_topics_and_its_dlqs(table: list[Grant]) -> None:
    own = {"registry": REGISTRY, "training": TRAINING, "certification": CERTIFICATION}
    own["funding"] = FUNDING
    for service, topic in own.items():
        user = service_principal(service)
        assert allowed(table, user, "TOPIC", topic, "WRITE")
        for other in set(own.values()) - {topic}:
            assert not allowed(table, user, "TOPIC", other, "WRITE"), (service, other)
    # The forged-award hole: nobody but certification writes QualificationAwarded's topic.
    writers = {g.principal for g in table if g.name == CERTIFICATION and g.operation == "WRITE"}
    assert writers == {service_principal("certification")}
    # Consumers dead-letter what they cannot process, on the DLQ of that topic only.
    assert allowed(table, service_principal("funding"), "TOPIC", dlq_topic(CERTIFICATION), "WRITE")
    assert not allowed(table, service_principal("funding"), "TOPIC", dlq_topic(TRAINING), "WRITE")


def test_reads_follow_the_handler_tables(table: list[Grant]) -> None:
    training = service_principal("training")
    assert allowed(table, training, "TOPIC", REGISTRY, "READ")
    assert not allowed(table, training, "TOPIC", CERTIFICATION, "READ")  # it handles no award
    assert allowed(table, service_principal("certification"), "TOPIC", TRAINING, "READ")
    # The registry consumes nothing: it reads only what it wrote (to count it at start-up).
    registry_reads = {
        g.name
        for g in table
        if g.principal == service_principal("registry") and g.operation == "READ"
    }
    assert registry_reads == {REGISTRY, PRIVATE}
    assert allowed(table, training, "GROUP", "skillbridge.training", "READ")
    assert not allowed(table, training, "GROUP", "skillbridge.funding", "READ")


def test_the_dashboard_reads_every_broadcast_topic_and_nothing_private(
    table: list[Grant],
) -> None:
    dashboard = service_principal("dashboard")
    mine = [g for g in table if g.principal == dashboard]
    topics = {g.name for g in mine if g.resource == "TOPIC"}
    reads = {g.name for g in mine if g.resource == "TOPIC" and g.operation == "READ"}
    writes = {g.name for g in mine if g.resource == "TOPIC" and g.operation == "WRITE"}
    # Exactly the four broadcast topics (from its HANDLERS), and their DLQs to dead-letter.
    assert reads == set(BROADCAST_TOPICS)
    assert writes == {dlq_topic(topic) for topic in BROADCAST_TOPICS}
    assert topics == reads | writes  # CREATE too, on those names only
    assert all(g.pattern == "LITERAL" for g in mine if g.resource == "TOPIC")
    # It publishes nothing: no broadcast, private or partner topic is its to write.
    for topic in (*BROADCAST_TOPICS, PRIVATE, partner_topic("gsb")):
        assert not allowed(table, dashboard, "TOPIC", topic, "WRITE"), topic
    for topic in (PRIVATE, partner_topic("gsb"), partner_topic("new")):
        assert not allowed(table, dashboard, "TOPIC", topic, "READ"), topic
    # Its consumer groups (live and rebuild) under its own prefix only.
    assert [g.name for g in mine if g.resource == "GROUP"] == ["skillbridge.dashboard"]
    assert not allowed(table, dashboard, "GROUP", "skillbridge.funding", "READ")


def test_a_reader_that_handled_a_private_event_gets_no_acls() -> None:
    # A handler for the registry's private hand-over in the dashboard's table would give the
    # whole read model (and every operator with a read key) the consented personal data.
    with pytest.raises(ValueError, match="PersonalDataShared"):
        service_grants("dashboard", [events.PersonRegistered, events.PersonalDataShared])


def test_a_partner_reads_only_its_own_topic_in_its_own_groups(table: list[Grant]) -> None:
    gsb = partner_principal("gsb")
    assert [g for g in table if g.principal == gsb and g.operation != "READ"] == []
    assert allowed(table, gsb, "TOPIC", partner_topic("gsb"), "READ")
    assert not allowed(table, gsb, "TOPIC", partner_topic("smed"), "READ")
    assert not allowed(table, gsb, "TOPIC", FUNDING, "READ")
    assert not allowed(table, gsb, "TOPIC", PRIVATE, "READ")
    assert allowed(table, gsb, "GROUP", "partner-gsb.lender", "READ")
    assert not allowed(table, gsb, "GROUP", "partner-smed.lender", "READ")
    assert not allowed(table, gsb, "GROUP", "skillbridge.funding", "READ")
    # funding writes every lender's topic, and creates a new lender's.
    assert allowed(table, service_principal("funding"), "TOPIC", partner_topic("new"), "WRITE")


def test_default_partners_are_the_lenders_funding_seeds() -> None:
    assert {"gsb", "smed"} <= set(acls.seeded_partners())
    principals = {g.principal for g in acls.table()}
    assert {partner_principal(code) for code in acls.seeded_partners()} <= principals


class RecordingAdmin:
    """Stands in for confluent-kafka's AdminClient: records the CreateAcls request it gets."""

    def __init__(self, refuse: int | None = None, cluster_id: str = "kafka-cluster") -> None:
        self.requests: list[list[Any]] = []
        self.refuse = refuse
        self.cluster_id = cluster_id

    def list_topics(self, *args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(cluster_id=self.cluster_id)

    def create_acls(self, acls: list[Any], **kwargs: Any) -> dict[Any, Any]:
        from concurrent.futures import Future

        self.requests.append(acls)
        futures: dict[Any, Future[None]] = {}
        for i, binding in enumerate(acls):
            future: Future[None] = Future()
            if i == self.refuse:
                future.set_exception(RuntimeError("CLUSTER_AUTHORIZATION_FAILED"))
            else:
                future.set_result(None)
            futures[binding] = future
        return futures


def test_apply_sends_one_allow_binding_per_row(table: list[Grant]) -> None:
    admin = RecordingAdmin()
    assert acls.apply(table, admin) == len(table)
    [request] = admin.requests
    assert len(request) == len(table)
    binding = next(b for b in request if b.principal == partner_principal("gsb"))
    assert binding.name == partner_topic("gsb")
    assert binding.operation == AclOperation.READ
    assert binding.permission_type == AclPermissionType.ALLOW
    assert binding.resource_pattern_type == ResourcePatternType.LITERAL
    assert binding.host == "*"
    group = next(b for b in request if b.name == "partner-gsb.")
    assert group.resource_pattern_type == ResourcePatternType.PREFIXED


def test_apply_reports_what_the_broker_refused(table: list[Grant]) -> None:
    with pytest.raises(RuntimeError, match="CLUSTER_AUTHORIZATION_FAILED"):
        acls.apply(table, RecordingAdmin(refuse=3))


def test_apply_refuses_the_embedded_broker_before_sending_anything(table: list[Grant]) -> None:
    admin = RecordingAdmin(cluster_id="tansu_cluster")
    with pytest.raises(RuntimeError, match="embedded Tansu"):
        acls.apply(table, admin)
    assert admin.requests == []


def test_cli_dry_run_prints_the_table_and_applies_nothing() -> None:
    result = CliRunner().invoke(
        app, ["acls", "apply", "--dry-run", "--partner", "gsb"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "User:partner-gsb" in result.output and "skillbridge.partner.gsb.v1" in result.output
    assert "User:partner-smed" not in result.output
    assert "dry run, nothing applied" in result.output


def _self_signed_ca(folder: Path) -> Path:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = folder / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_the_embedded_broker_gets_no_security_meant_for_a_real_cluster(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Tansu speaks neither TLS nor usable SASL (decision 0014): an operator's KAFKA_SASL_*
    for the production cluster must not make `skillbridge up` fail."""
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "admin")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/etc/ssl/ca.pem")
    env = Stack(data_dir=tmp_path).service_env("funding")
    assert env["KAFKA_SECURITY_PROTOCOL"] == "PLAINTEXT"
    assert not [k for k in env if k.startswith(("KAFKA_SASL_", "KAFKA_SSL_"))]
    external = Stack(data_dir=tmp_path, external_bootstrap="kafka:9092").service_env("funding")
    assert external["KAFKA_SASL_USERNAME"] == "admin"  # a real cluster keeps them
