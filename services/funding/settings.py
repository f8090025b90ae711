from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.funding.webhooks import Destinations
from shared.settings import ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore")

    service_name: str = "funding"
    database_url: str = "sqlite+aiosqlite:///var/funding.db"
    http_port: int = 8004

    # Lenders, products and their first live rule versions (installed when absent).
    seed_catalogue: bool = True
    # Referral upkeep: SLA expiry and "delivered" once the partner topic acknowledged.
    expiry_sweep_seconds: float = Field(default=30.0, gt=0)
    delivery_sweep_seconds: float = Field(default=1.0, gt=0)
    # Webhooks: retried with exponential backoff (base * 2**(attempt-1), capped), dead after N.
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_base_seconds: float = Field(default=2.0, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    webhook_batch_size: int = Field(default=50, ge=1)
    # Where webhooks may go (services/funding/webhooks.py): https to public addresses only,
    # unless allowed here (tests and a lender on the same network need it).
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    # Lender code -> the hosts its endpoints may use ("*.example.com": its subdomains); a
    # lender not listed may use any public host. JSON: {"gsb": ["hooks.gsb.or.th"]}.
    webhook_allowed_hosts: dict[str, list[str]] = Field(default_factory=dict)

    def webhook_destinations(self) -> Destinations:
        return Destinations(
            allow_http=self.webhook_allow_http,
            allow_private=self.webhook_allow_private,
            allowed_hosts=self.webhook_allowed_hosts,
        )
