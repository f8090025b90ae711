from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class TrainingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINING_", extra="ignore")

    service_name: str = "training"
    database_url: str = "sqlite+aiosqlite:///var/training.db"
    http_port: int = 8002
