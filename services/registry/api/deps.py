"""What registry routes need beyond shared.auth's aliases (ReadKey, WriteKey, AdminKey, Db).

`__main__` puts the settings on `app.state.settings`; routes declare `Settings`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.registry.settings import RegistrySettings


def settings_of(request: Request) -> RegistrySettings:
    settings = getattr(request.app.state, "settings", None)
    if not isinstance(settings, RegistrySettings):
        raise RuntimeError("no RegistrySettings on app.state: services.registry.__main__ sets it")
    return settings


Settings = Annotated[RegistrySettings, Depends(settings_of)]
