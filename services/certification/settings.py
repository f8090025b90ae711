from __future__ import annotations

from pathlib import Path

from limits import parse
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from services.certification.status_list import MIN_ENTRIES
from shared.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERTIFICATION_", extra="ignore")

    service_name: str = "certification"
    database_url: str = "sqlite+aiosqlite:///var/certification.db"
    http_port: int = 8003

    # Base of every public link (verification page, QR, credential ids, did:web).
    # Default: http://<http_host>:<http_port>.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    issuer_name: str = "SkillBridge professional qualifications (TPQI pilot)"
    # The Ed25519 signing key (PKCS#8 PEM), from the variable or a file. Neither: the
    # service generates one on first start and keeps it in its database (decision 0011).
    signing_key: SecretStr | None = None
    signing_key_file: Path | None = None

    status_list_size: int = Field(default=MIN_ENTRIES, ge=MIN_ENTRIES, multiple_of=8)
    # Public verification routes, per client address (`limits` notation).
    verify_rate_limit: str = "120/minute"
    # Behind a reverse proxy: take the client from the first X-Forwarded-For address.
    trust_forwarded_for: bool = False
    expiry_sweep_seconds: float = Field(default=3600, gt=0)
    # Renewal opens this many days before valid-until (and stays open after expiry).
    renewal_window_days: int = Field(default=180, ge=0, le=3650)

    @field_validator("verify_rate_limit")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse(value)  # raises ValueError on a malformed limit
        return value

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::") else self.http_host
        return f"http://{host}:{self.http_port}"

    def signing_key_pem(self) -> bytes | None:
        if self.signing_key is not None:
            return self.signing_key.get_secret_value().encode()
        if self.signing_key_file is not None:
            return self.signing_key_file.read_bytes()
        return None
