"""Dependencies specific to the engagement service (the one place that reads ``app.state``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from engagement.settings import EngagementSettings


def get_settings(request: Request) -> EngagementSettings:
    """The service's settings."""
    settings: EngagementSettings = request.app.state.settings
    return settings


SettingsDep = Annotated[EngagementSettings, Depends(get_settings)]
