from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRY_", extra="ignore")

    service_name: str = "registry"
    database_url: str = "sqlite+aiosqlite:///var/registry.db"
    http_port: int = 8001

    # Monthly household income (THB) below which a household counts as low-income.
    low_income_threshold: int = Field(default=10_000, ge=0)
    # Lower edges of the income bands (THB/month) published instead of amounts.
    income_band_edges: list[int] = Field(
        default=[0, 2_000, 4_000, 6_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000]
    )

    consent_sweep_seconds: float = Field(default=60.0, gt=0)
    import_batch_rows: int = Field(default=1_000, ge=1)
    # The CSV upload (POST /imports) streams to the database: far above the 1 MiB default.
    import_max_body_bytes: int = Field(default=512 * 1024 * 1024, ge=1024)

    @field_validator("income_band_edges")
    @classmethod
    def _edges_ascending(cls, edges: list[int]) -> list[int]:
        if not edges or edges[0] != 0 or edges != sorted(set(edges)):
            raise ValueError("income band edges must start at 0 and strictly increase")
        return edges
