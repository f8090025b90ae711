from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class CertificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CERTIFICATION_", extra="ignore")

    service_name: str = "certification"
    database_url: str = "sqlite+aiosqlite:///var/certification.db"
    http_port: int = 8003
    certificate_valid_years: int = Field(default=3, ge=1, le=10)
