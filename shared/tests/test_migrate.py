"""Migrating apart from start-up: ``python -m shared.migrate`` and ``MIGRATE_ON_STARTUP``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from shared import migrate, service
from vehicles.app import create_app
from vehicles.settings import VehiclesSettings


def _head(database: Path) -> str | None:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT version_num FROM alembic_version").fetchall()
    return rows[0][0] if rows else None


def test_the_entry_point_brings_a_service_database_to_head(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = subprocess.run([sys.executable, "-m", "shared.migrate", "vehicles"],
                            env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    head = _head(tmp_path / "vehicles.db")
    assert head is not None
    # A second replica's init container finds the schema at head and changes nothing.
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert migrate.main(["vehicles"]) == 0
    assert _head(tmp_path / "vehicles.db") == head


def test_the_entry_point_wants_exactly_one_service() -> None:
    assert migrate.main([]) == 2
    assert migrate.main(["vehicles", "chat"]) == 2


@pytest.mark.parametrize("migrate_on_startup", [True, False])
async def test_start_up_migrates_only_when_told_to(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrate_on_startup: bool) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    migrate.migrate("vehicles")  # what the init container did before the app starts
    calls: list[object] = []
    real_upgrade = service.upgrade_to_head

    def recording_upgrade(*args: object) -> None:
        calls.append(args)
        real_upgrade(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "upgrade_to_head", recording_upgrade)
    app = create_app(VehiclesSettings(data_dir=tmp_path, migrate_on_startup=migrate_on_startup,
                                      bus_connect_grace_seconds=0))
    async with app.router.lifespan_context(app):
        pass
    assert len(calls) == (1 if migrate_on_startup else 0)
