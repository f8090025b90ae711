"""The compose file and the Kubernetes manifests, checked offline (no Docker engine or
cluster here): every service the launcher starts is in both, on the launcher's port, with its
own database, its own Kafka principal (the one shared/acls.py grants to) and, if it publishes,
its own signing key. The compose file validates against the compose-spec schema
(check-jsonschema ships it), the rendered kustomization against the Kubernetes schemas
(kubernetes-validate ships them) and KEDA's models (cloudcoil, made from its CRDs)."""

from __future__ import annotations

import base64
import copy
import json
import re
import stat
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.keda.v1alpha1 import ScaledObject, TriggerAuthentication
from dotenv import dotenv_values
from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack.acls import seeded_partners
from deploy.stack.compose_env import env_files
from deploy.stack.launcher import SERVICES
from shared.acls import PRINCIPALS, READERS
from shared.settings import ServiceSettings
from shared.signing import load_private_key, raw_public
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
    # Its secrets come from the file `skillbridge compose init` writes for it alone.
    assert spec["env_file"] == f"env/{service}.env"
    assert not any(
        name.endswith("_EVENT_SIGNING_KEY") or name.endswith("_ADMIN_KEY") for name in env
    )
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
    assert "replicas" not in documents["Deployment"]["spec"]  # the ScaledObject owns it
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


# --- compose as shipped: compose-spec, its secrets, its telemetry ----------------------------

COMPOSE = DEPLOY / "compose"


def test_compose_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(
        (files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    )
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []
    # The checker would see a mistake (a misspelt key) in the same file.
    broken = {**compose, "services": {**compose["services"], "x": {"image": "a", "enviroment": {}}}}
    assert not validator.is_valid(broken)


def test_compose_has_no_secret_of_its_own_and_compose_init_writes_every_one(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    text = (COMPOSE / "compose.yaml").read_text()
    assert "dev-only" not in text
    # Every ${VAR} is required (`:?`) and comes from .env, which compose init writes.
    variables = set(re.findall(r"\$\{([A-Z0-9_]+)(:\?[^}]*)?\}", text))
    assert variables and all(required for _, required in variables)
    written = {
        f.path.relative_to(tmp_path): f.values
        for f in env_files(tmp_path, SERVICES, seeded_partners())
    }
    assert {name for name, _ in variables} <= set(written[Path(".env")])
    for service in SERVICES:
        own = written[Path(compose["services"][service]["env_file"])]
        prefix = service.upper()
        expected = {f"{prefix}_ADMIN_KEY"} | (
            {f"{prefix}_EVENT_SIGNING_KEY"} if service in PUBLISHERS else set()
        )
        assert set(own) == expected
        assert own[f"{prefix}_ADMIN_KEY"] == written[Path(".env")]["SKILLBRIDGE_ADMIN_KEY"]
    # Each lender's SCRAM user gets a password.
    users = compose["services"]["kafka-users"]["environment"]["KAFKA_PASSWORDS"]
    assert set(re.findall(r"([a-z-]+)=\$\{", users)) == {
        "admin",
        *SERVICES,
        *(f"partner-{c}" for c in seeded_partners()),
    }


def test_compose_init_writes_private_files_and_keeps_existing_ones(tmp_path: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["compose", "init", "--dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    env = tmp_path / ".env"
    paths = [env, *(tmp_path / "env" / f"{s}.env" for s in SERVICES)]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in paths)
    values = dotenv_values(env)
    assert json.loads(values["EVENT_PUBLIC_KEYS"] or "").keys() == set(PUBLISHERS)
    # The signing key compose init wrote signs what its public key verifies.
    funding = dotenv_values(tmp_path / "env" / "funding.env")
    key = load_private_key(funding["FUNDING_EVENT_SIGNING_KEY"] or "")
    public = json.loads(values["EVENT_PUBLIC_KEYS"] or "")["funding"]
    assert base64.b64encode(raw_public(key.public_key())).decode() == public
    before = env.read_text()
    again = runner.invoke(app, ["compose", "init", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "exists" in again.output
    assert env.read_text() == before
    forced = runner.invoke(app, ["compose", "init", "--dir", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert env.read_text() != before and stat.S_IMODE(env.stat().st_mode) == 0o600


def test_prometheus_scrapes_every_service_and_the_collector_receives_their_otlp(
    compose: dict[str, Any],
) -> None:
    prometheus = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    targets = {
        target
        for job in prometheus["scrape_configs"]
        if job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]
        for target in group["targets"]
    }
    assert targets == {f"{service}:{port}" for service, port in SERVICES.items()}
    collector = yaml.safe_load((COMPOSE / "otel-collector.yaml").read_text())
    http = collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    for signal in ("traces", "metrics"):
        assert "otlp" in collector["service"]["pipelines"][signal]["receivers"]
    for service in SERVICES:
        env = compose["services"][service]["environment"]
        assert (
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{http.rsplit(':', 1)[1]}"
        )
        assert env["OTEL_TRACES_EXPORTER"] == env["OTEL_METRICS_EXPORTER"] == "otlp"
        assert compose["services"][service]["depends_on"]["otel-collector"]
    mounted = {v.split(":")[0] for v in compose["services"]["prometheus"]["volumes"]}
    assert "./prometheus.yml" in mounted
    assert "./otel-collector.yaml" in {
        v.split(":")[0] for v in compose["services"]["otel-collector"]["volumes"]
    }


# --- Kubernetes as shipped: rendered like kustomize, validated against the schemas ----------

KUBERNETES_VERSION = "1.31"
CLUSTER_SCOPED = {"Namespace"}


def render() -> list[dict[str, Any]]:
    """`kustomize build deploy/k8s` for the features our kustomization.yaml uses (resources,
    namespace, images): no kustomize binary comes from the package registries."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}
    images = {
        i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kustomization["images"]
    }
    rendered = []
    for name in kustomization["resources"]:
        for doc in load_all(K8S / name):
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
            for pod in (
                [doc["spec"]["template"]["spec"]] if doc["kind"] in {"Deployment", "Job"} else []
            ):
                for container in pod["containers"]:
                    container["image"] = images[container["image"].split(":")[0]]
            rendered.append(doc)
    return rendered


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return render()


def by_kind(rendered: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered if doc["kind"] == kind}


def test_every_rendered_manifest_validates_against_its_schema(
    rendered: list[dict[str, Any]],
) -> None:
    keda = {"ScaledObject": ScaledObject, "TriggerAuthentication": TriggerAuthentication}
    checked = set()
    for doc in rendered:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["apiVersion"].startswith("keda.sh/"):
            # KEDA's models accept unknown fields silently: a round trip that drops one fails.
            model = keda[doc["kind"]].model_validate(doc)
            assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == doc, where
        else:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked.add(doc["kind"])
    assert checked >= {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "Job",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ScaledObject",
        "TriggerAuthentication",
    }


def test_the_schemas_would_catch_a_mistake(rendered: list[dict[str, Any]]) -> None:
    deployment = copy.deepcopy(by_kind(rendered, "Deployment")["registry"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    scaled = copy.deepcopy(by_kind(rendered, "ScaledObject")["registry"])
    scaled["spec"]["maxReplicas"] = 3
    dumped = ScaledObject.model_validate(scaled).model_dump(
        mode="json", by_alias=True, exclude_unset=True
    )
    assert dumped != scaled


@pytest.mark.parametrize("service", list(SERVICES))
def test_each_service_migrates_scales_on_lag_and_keeps_a_pod(
    rendered: list[dict[str, Any]], service: str
) -> None:
    prefix = service.upper()
    job = by_kind(rendered, "Job")[f"{service}-migrate"]
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["skillbridge", "migrate", "--service", service, "upgrade"]
    assert container["image"].startswith("skillbridge-operator:")  # the image with the CLI
    [url] = container["env"]
    assert url["name"] == f"{prefix}_DATABASE_URL"
    assert url["valueFrom"]["secretKeyRef"] == {"name": "skillbridge-database", "key": url["name"]}

    pdb = by_kind(rendered, "PodDisruptionBudget")[service]
    assert pdb["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": service}

    scaled = by_kind(rendered, "ScaledObject")[service]
    assert scaled["spec"]["scaleTargetRef"]["name"] == service
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == f"skillbridge.{service}"
    config = by_kind(rendered, "ConfigMap")["skillbridge-config"]["data"]
    assert trigger["metadata"]["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
    auth = by_kind(rendered, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
    env = {
        e["name"]
        for e in by_kind(rendered, "Deployment")[service]["spec"]["template"]["spec"]["containers"][
            0
        ]["env"]
    }
    assert {e["name"] for e in auth["spec"]["env"]} <= env
    assert all(e["containerName"] == service for e in auth["spec"]["env"])

    deployment = by_kind(rendered, "Deployment")[service]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    admin = {e["name"]: e for e in container["env"]}[f"{prefix}_ADMIN_KEY"]
    assert admin["valueFrom"]["secretKeyRef"] == {"name": "skillbridge-admin", "key": "admin-key"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(SERVICES[service])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_ingress_serves_exactly_certifications_public_routes(
    rendered: list[dict[str, Any]],
) -> None:
    from services.certification.api.public import router

    [ingress] = by_kind(rendered, "Ingress").values()
    [rule] = ingress["spec"]["rules"]
    paths = rule["http"]["paths"]
    assert {p["backend"]["service"]["name"] for p in paths} == {"certification"}
    assert [t["hosts"] for t in ingress["spec"]["tls"]] == [[rule["host"]]]
    public_url = {
        e["name"]: e.get("value")
        for e in by_kind(rendered, "Deployment")["certification"]["spec"]["template"]["spec"][
            "containers"
        ][0]["env"]
    }["CERTIFICATION_PUBLIC_URL"]
    assert public_url == f"https://{rule['host']}"

    def exposed(route: str) -> bool:
        return any(
            route == p["path"]
            if p["pathType"] == "Exact"
            else route.startswith(p["path"] + "/") or route == p["path"]
            for p in paths
        )

    routes = [route.path for route in router.routes]  # type: ignore[attr-defined]
    assert routes and all(exposed(route) for route in routes)
    for private in ("/certificates", "/sessions", "/api-keys", "/docs", "/metrics", "/stats"):
        assert not exposed(private), private


def test_network_policies_deny_by_default_and_let_in_only_ingress_and_prometheus(
    rendered: list[dict[str, Any]],
) -> None:
    policies = by_kind(rendered, "NetworkPolicy")
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny
    inbound = [p["spec"] for p in policies.values() if p["spec"].get("ingress")]
    [only] = inbound
    sources = [peer for rule in only["ingress"] for peer in rule["from"]]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for peer in sources
    }
    assert namespaces == {"ingress-nginx", "observability"}
    egress_ports = {
        port["port"]
        for p in policies.values()
        for rule in p["spec"].get("egress", [])
        for port in rule["ports"]
    }
    assert egress_ports == {53, 9092, 9093, 5432, 4318, 443}


def test_topics_are_created_with_three_replicas_and_two_in_sync(
    rendered: list[dict[str, Any]],
) -> None:
    data = by_kind(rendered, "ConfigMap")["skillbridge-config"]["data"]
    assert (data["KAFKA_TOPIC_REPLICATION_FACTOR"], data["KAFKA_TOPIC_MIN_INSYNC_REPLICAS"]) == (
        "3",
        "2",
    )
    settings = ServiceSettings.model_validate(
        {k: v for k, v in data.items() if k.startswith("KAFKA_TOPIC_")}
    )
    assert (settings.topic_replication_factor, settings.topic_min_insync_replicas) == (3, 2)
    with pytest.raises(ValueError, match="MIN_INSYNC"):
        ServiceSettings.model_validate(
            {"KAFKA_TOPIC_REPLICATION_FACTOR": "1", "KAFKA_TOPIC_MIN_INSYNC_REPLICAS": "2"}
        )


def test_the_example_secrets_hold_every_key_a_manifest_reads(
    rendered: list[dict[str, Any]],
) -> None:
    secrets = secret_keys()
    refs = set()
    for doc in rendered:
        text = json.dumps(doc)
        for name, key in re.findall(
            r'"secretKeyRef": \{"name": "([^"]+)", "key": "([^"]+)"\}', text
        ):
            refs.add((name, key))
    assert refs and all(key in secrets[name] for name, key in refs)
    assert "admin-key" in secrets["skillbridge-admin"]
