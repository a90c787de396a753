"""Dependencies specific to the engagement service: its typed settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from engagement.settings import EngagementSettings
from shared.deps import get_settings

SettingsDep = Annotated[EngagementSettings, Depends(get_settings)]
