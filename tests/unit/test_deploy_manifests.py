"""The compose file and the Kubernetes manifests, checked offline (no Docker engine or
cluster here): every service the launcher starts is in both, on the launcher's port, with its
own database, its own Kafka principal (the one shared/acls.py grants to) and, if it publishes,
its own signing key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.stack.launcher import SERVICES
from shared.acls import PRINCIPALS, READERS
from shared.topics import SERVICES as PUBLISHERS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return document


def test_principals_are_the_services_the_launcher_starts() -> None:
    assert set(PRINCIPALS) == set(SERVICES)
    assert set(READERS) == set(SERVICES) - set(PUBLISHERS) == {"dashboard"}


@pytest.mark.parametrize("service", list(SERVICES))
def test_compose_runs_each_service_as_the_launcher_does(
    compose: dict[str, Any], service: str
) -> None:
    port = SERVICES[service]
    spec = compose["services"][service]
    env = spec["environment"]  # the x-service-env anchor merged in
    prefix = service.upper()
    assert spec["command"] == ["python", "-m", f"services.{service}"]
    assert env[f"{prefix}_HTTP_PORT"] == str(port)
    assert env[f"{prefix}_HTTP_HOST"] == "0.0.0.0"
    assert env[f"{prefix}_DATABASE_URL"].endswith(f"@postgres:5432/{service}")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["KAFKA_SASL_USERNAME"] == service
    assert f"KAFKA_PASSWORD_{prefix}" in env["KAFKA_SASL_PASSWORD"]
    assert env["OTEL_SERVICE_NAME"] == f"skillbridge-{service}"
    assert spec["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(spec["healthcheck"]["test"])
    # It starts once the ACLs are applied and PostgreSQL is healthy.
    assert spec["depends_on"]["kafka-acls"]["condition"] == "service_completed_successfully"
    assert (f"{prefix}_EVENT_SIGNING_KEY" in env) == (service in PUBLISHERS)
    # Its SCRAM user is made, and its database created on a new volume.
    users = compose["services"]["kafka-users"]["environment"]["KAFKA_PASSWORDS"].split()
    assert any(pair.startswith(f"{service}=") for pair in users)
    initdb = (DEPLOY / "compose" / "initdb" / "01-databases.sql").read_text()
    assert f"CREATE DATABASE {service};" in initdb


def test_compose_waits_for_every_database(compose: dict[str, Any]) -> None:
    # The init scripts run in order: the last database made is the one the check waits for.
    check = " ".join(compose["services"]["postgres"]["healthcheck"]["test"])
    assert check.endswith(f"-d {list(SERVICES)[-1]}")


def test_kustomization_lists_files_that_exist() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert all((K8S / name).is_file() for name in resources)
    assert {f"{service}.yaml" for service in SERVICES} <= set(resources)
    assert "secret.example.yaml" not in resources


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_has_a_deployment_and_a_service_like_the_others(service: str) -> None:
    port = SERVICES[service]
    prefix = service.upper()
    documents = {doc["kind"]: doc for doc in load_all(K8S / f"{service}.yaml")}
    assert set(documents) == {"Deployment", "Service"}
    deployment, svc = documents["Deployment"], documents["Service"]
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "skillbridge"}
    assert deployment["metadata"]["namespace"] == svc["metadata"]["namespace"] == "skillbridge"
    assert deployment["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["labels"] == labels
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["python", "-m", f"services.{service}"]
    assert container["image"].startswith("skillbridge:")
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {p["httpGet"]["path"] for k, p in container.items() if k.endswith("Probe")} == {
        "/healthz",
        "/readyz",
    }
    env = {item["name"]: item for item in container["env"]}
    assert env[f"{prefix}_HTTP_PORT"]["value"] == str(port)
    assert env["KAFKA_SASL_USERNAME"]["value"] == service
    secrets = secret_keys()
    for name, item in env.items():
        if "valueFrom" in item:
            ref = item["valueFrom"]["secretKeyRef"]
            assert ref["key"] in secrets[ref["name"]], (service, name, ref)
    assert env[f"{prefix}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == (
        f"{prefix}_DATABASE_URL"
    )
    assert env["KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == f"{service}-password"
    # Only a service that publishes gets a private signing key (docs/decisions/0013).
    assert (f"{prefix}_EVENT_SIGNING_KEY" in env) == (service in PUBLISHERS)
    assert "EVENT_PUBLIC_KEYS" in env
    assert svc["spec"]["selector"] == {"app.kubernetes.io/name": service}
    assert svc["spec"]["ports"] == [{"name": "http", "port": port, "targetPort": "http"}]


def secret_keys() -> dict[str, set[str]]:
    """What secret.example.yaml says each Secret holds."""
    return {
        doc["metadata"]["name"]: set(doc["stringData"])
        for doc in load_all(K8S / "secret.example.yaml")
        if doc["kind"] == "Secret"
    }
