"""What registry routes need beyond shared.auth's aliases (ReadKey, WriteKey, AdminKey, Db).

`__main__` puts the settings on `app.state.settings`; routes declare `Settings`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.registry.settings import RegistrySettings
from shared.http import app_state


def settings_of(request: Request) -> RegistrySettings:
    return app_state(request, "settings", RegistrySettings)


Settings = Annotated[RegistrySettings, Depends(settings_of)]
