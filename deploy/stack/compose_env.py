"""The secrets deploy/compose/compose.yaml runs with, made fresh by `skillbridge compose init`.

Two kinds of file, both 0600 and outside git (deploy/compose/.gitignore):
- `.env` beside compose.yaml, which compose reads for `${...}` in the file: the PostgreSQL
  and Kafka (SCRAM) passwords, the event public keys, and the operator's admin key;
- `env/<service>.env`, given to that service alone (`env_file`): its bootstrap admin key
  (`<SERVICE>_ADMIN_KEY`) and, if it publishes, its private event-signing key
  (decision 0013: no service holds another's).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.acls import partner_username
from shared.auth import new_token
from shared.signing import deployment_keys
from shared.topics import SERVICES as PUBLISHERS

COMPOSE_DIR = Path(__file__).resolve().parents[1] / "compose"


@dataclass(frozen=True)
class EnvFile:
    path: Path
    values: dict[str, str]
    why: str


def password() -> str:
    # URL-safe (it goes into database URLs) and free of the ',' ']' '=' that
    # kafka-configs.sh's SCRAM syntax cannot take.
    return secrets.token_urlsafe(24)


def password_variable(principal: str) -> str:
    """`KAFKA_PASSWORD_<PRINCIPAL>`, the name compose.yaml interpolates for a SCRAM user."""
    return "KAFKA_PASSWORD_" + principal.upper().replace("-", "_")


def env_files(directory: Path, services: Iterable[str], partners: Iterable[str]) -> list[EnvFile]:
    """Every file `compose init` writes, with fresh values; one admin key for the stack (as
    the launcher's), installed by each service under its own prefix."""
    services = list(services)
    admin_key = new_token()
    signing = deployment_keys([s for s in services if s in PUBLISHERS])
    principals = ["admin", *services, *map(partner_username, partners)]  # validates codes
    shared = {
        "SKILLBRIDGE_ADMIN_KEY": admin_key,
        "POSTGRES_PASSWORD": password(),
        **{password_variable(p): password() for p in principals},
        "EVENT_PUBLIC_KEYS": signing["EVENT_PUBLIC_KEYS"],
    }
    files = [EnvFile(directory / ".env", shared, "compose's variables: passwords, public keys")]
    for service in services:
        own = {f"{service.upper()}_ADMIN_KEY": admin_key}
        key = f"{service.upper()}_EVENT_SIGNING_KEY"
        if key in signing:
            own[key] = signing[key]
        why = "admin key" + (", private signing key" if key in signing else "")
        files.append(EnvFile(directory / "env" / f"{service}.env", own, f"{service}: {why}"))
    return files


def render(values: Mapping[str, str]) -> str:
    """KEY='value' lines: compose's env files take single-quoted values literally (the
    public keys are JSON; none of the values holds a quote)."""
    lines = ["# Written by `skillbridge compose init`: secrets, keep out of git."]
    for name, value in values.items():
        if "'" in value or "\n" in value:
            raise ValueError(f"{name}: a value compose could not read back")
        lines.append(f"{name}='{value}'")
    return "\n".join(lines) + "\n"


def write(file: EnvFile) -> None:
    """Create the file readable by its owner only, from the first byte."""
    file.path.parent.mkdir(parents=True, exist_ok=True)
    file.path.unlink(missing_ok=True)
    fd = os.open(file.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(render(file.values))
