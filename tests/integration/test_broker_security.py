"""Broker security against real brokers (docs/decisions/0014).

1. TLS: the embedded Tansu has none, so a TLS-terminating proxy (Python's ssl, mutual TLS)
   stands in front of it; the services' own clients, configured only through the
   KAFKA_SECURITY_PROTOCOL/KAFKA_SSL_* settings, create a topic, publish and read back
   through it. A client without the certificate, or trusting another CA, is refused.
2. Tansu 0.6.0's `--authentication`: refuses an anonymous client, but lets in a client whose
   SCRAM exchange FAILED (fixed upstream in 0cc3ac9, v0.7.0-pre.1). This pins that finding:
   when an upgrade makes it fail, revisit the decision (its memory engine must also store
   SCRAM credentials before the launcher can turn authentication on).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import os
import shutil
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError
from aiokafka.protocol.admin import (
    CreateTopicsRequest,
    SaslAuthenticateRequest,
    SaslHandShakeRequest,
)
from aiokafka.protocol.metadata import MetadataRequest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from deploy.cli import app
from deploy.stack.kcat import command
from deploy.stack.launcher import free_port, start_tansu
from shared.kafka import client_options, ensure_topics, librdkafka_config
from shared.settings import KafkaSecurity


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def client_settings(self) -> KafkaSecurity:
        """What a client holding the client certificate sets: mutual TLS."""
        return KafkaSecurity.model_validate(
            {
                "kafka_security_protocol": "SSL",
                "kafka_ssl_cafile": str(self.ca),
                "kafka_ssl_certfile": str(self.client_cert),
                "kafka_ssl_keyfile": str(self.client_key),
            }
        )


def _write_pki(folder: Path) -> Pki:
    now = datetime.now(UTC)

    def issue(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
        )

    def save(name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{name}.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "skillbridge-test-ca")])
    ca = (
        issue("skillbridge-test-ca", ca_key, ca_name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    save("ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        issue("127.0.0.1", server_key, ca_name)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    save("server", server, server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = issue("funding", client_key, ca_name).sign(ca_key, hashes.SHA256())
    save("client", client, client_key)
    return Pki(
        ca=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
    )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@pytest.fixture
async def tls_bootstrap(tmp_path: Path) -> AsyncIterator[tuple[str, Pki]]:
    """127.0.0.1:<port> speaking mutual TLS, forwarding to a Tansu that advertises it."""
    pki = _write_pki(tmp_path)
    proxy_port, broker_port = free_port(), free_port()
    broker = start_tansu(broker_port, tmp_path / "broker.log", 30, advertised_port=proxy_port)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    server.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    server.verify_mode = ssl.CERT_REQUIRED  # clients must show a certificate of our CA

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", broker_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    proxy = await asyncio.start_server(forward, "127.0.0.1", proxy_port, ssl=server)
    try:
        yield f"127.0.0.1:{proxy_port}", pki
    finally:
        proxy.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proxy.wait_closed(), 5)
        broker.terminate()
        broker.wait(5)


async def test_clients_speak_mutual_tls_from_the_settings_alone(
    tls_bootstrap: tuple[str, Pki],
) -> None:
    bootstrap, pki = tls_bootstrap
    settings = pki.client_settings()
    topic = f"tls-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 1, settings)  # the services' admin path
    options = client_options(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over tls", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", **options
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.value == b"over tls"


async def test_tls_refuses_a_client_without_its_certificate_or_trusting_another_ca(
    tls_bootstrap: tuple[str, Pki], tmp_path: Path
) -> None:
    bootstrap, pki = tls_bootstrap
    no_client_cert = KafkaSecurity.model_validate(
        {"kafka_security_protocol": "SSL", "kafka_ssl_cafile": str(pki.ca)}
    )
    (tmp_path / "other").mkdir()
    other = _write_pki(tmp_path / "other")
    wrong_ca = KafkaSecurity.model_validate(
        {
            "kafka_security_protocol": "SSL",
            "kafka_ssl_cafile": str(other.ca),
            "kafka_ssl_certfile": str(pki.client_cert),
            "kafka_ssl_keyfile": str(pki.client_key),
        }
    )
    for settings in (no_client_cert, wrong_ca):
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_options(settings)
        )
        with pytest.raises(KafkaConnectionError):
            await asyncio.wait_for(producer.start(), 30)
        await producer.stop()


@pytest.fixture
def tansu_with_authentication(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    broker = start_tansu(port, tmp_path / "broker.log", 30, "--authentication")
    yield f"127.0.0.1:{port}"
    broker.terminate()
    broker.wait(5)


async def test_tansu_authentication_refuses_anonymous_clients(
    tansu_with_authentication: str,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=tansu_with_authentication)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 30)
    await producer.stop()


async def test_tansu_0_6_authentication_lets_in_a_client_whose_scram_exchange_failed(
    tansu_with_authentication: str,
) -> None:
    """The hole that keeps authentication off the embedded broker (decision 0014): the
    broker answers an unknown user's final SCRAM message with `e=unknown-user` and error
    code 0, marks the connection authenticated anyway, and serves what follows."""
    host, port = tansu_with_authentication.split(":")
    conn = await create_conn(host, int(port), request_timeout_ms=5000)
    try:
        handshake = await conn.send(SaslHandShakeRequest("SCRAM-SHA-512"))
        assert handshake.error_code == 0
        nonce = base64.b64encode(os.urandom(18)).decode()
        first = await conn.send(SaslAuthenticateRequest(f"n,,n=mallory,r={nonce}".encode()))
        server_nonce = dict(
            part.split("=", 1) for part in first.sasl_auth_bytes.decode().split(",")
        )["r"]
        proof = base64.b64encode(os.urandom(64)).decode()
        final = await conn.send(
            SaslAuthenticateRequest(f"c=biws,r={server_nonce},p={proof}".encode())
        )
        assert final.sasl_auth_bytes.startswith(b"e=")  # the exchange failed...
        topic = f"forged-{uuid.uuid4().hex[:8]}"
        created = await conn.send(CreateTopicsRequest([(topic, 1, 1, [], [])], 5000, False))
        assert created.topic_errors[0][1] == 0  # ...and yet the broker created a topic
        metadata = await conn.send(MetadataRequest([topic]))
        assert [t[1] for t in metadata.topics] == [topic]
    finally:
        conn.close()


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")
async def test_skillbridge_kcat_reads_over_mutual_tls_with_the_same_settings(
    tls_bootstrap: tuple[str, Pki], tmp_path: Path
) -> None:
    bootstrap, pki = tls_bootstrap
    settings = pki.client_settings()
    topic = f"kcat-tls-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [topic], 1, settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(settings))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"seen by kcat", key=b"k")
    finally:
        await producer.stop()
    argv, env = command(
        ["-C", "-b", bootstrap, "-t", topic, "-e", "-q"], tmp_path, librdkafka_config(settings)
    )
    assert "-F" in argv  # the settings travel in a file, not on the command line
    kcat = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(kcat.communicate(), timeout=60)
    assert kcat.returncode == 0, err.decode()
    assert out.decode().strip() == "seen by kcat"


def test_acls_apply_against_tansu_says_why_it_cannot(bootstrap: str) -> None:
    """A real Tansu: librdkafka would abort on its empty CreateAcls answer; the command
    stops first with the reason, exit code 1."""
    result = CliRunner().invoke(
        app, ["acls", "apply", "--bootstrap", bootstrap, "--partner", "gsb"]
    )
    assert result.exit_code == 1
    assert "embedded Tansu broker: it has no ACLs" in result.output
