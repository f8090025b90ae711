from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class DashboardSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", extra="ignore")

    service_name: str = "dashboard"
    database_url: str = "sqlite+aiosqlite:///var/dashboard.db"
    http_port: int = 8005

    # A signed-in page session lasts this long (the cookie and its row).
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    # Send the session cookie only over HTTPS (set behind TLS; the demo is plain HTTP).
    secure_cookies: bool = False
    # The open page hears of new events at most this often (server-sent events).
    live_interval_seconds: float = Field(default=0.5, gt=0, le=10)
