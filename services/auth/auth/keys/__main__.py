"""``python -m auth.keys rotate|list``: rotate the signing key, or show the stored keys.

Run it with the auth service's own settings (``DATABASE_URL``, or ``DATA_DIR`` in the
embedded mode): it changes the database every auth process reads, so the new key signs
in all of them at once, without a restart. Tokens signed before keep working until they
expire; ``list`` says until when each replaced key is published and kept.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import col, select

from auth.keys.store import keeping_period, publication_period, rotate
from auth.models import SigningKey
from auth.settings import AuthSettings
from shared.db import Database


class KeyCommandFailed(Exception):
    """The command could not read or change the keys (wrong ``DATABASE_URL``?)."""


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m auth.keys rotate|list`` on the database ``AuthSettings`` names."""
    parser = argparse.ArgumentParser(prog="python -m auth.keys", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("rotate", help="a new key signs from now on; the replaced one "
                        "verifies the tokens it signed until they expire")
    commands.add_parser("list", help="the stored keys: which one signs, until when the "
                        "others are published and kept")
    args = parser.parse_args(argv)
    settings = AuthSettings()
    configured = bool(settings.jwt_private_key or settings.jwt_private_key_file)
    if args.command == "rotate" and configured:
        parser.exit(2, "JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is set: that key signs, not "
                       "a stored one, so rotate it by configuring the new key.\n")
    try:
        lines = asyncio.run(_run(args.command, settings, _database_url(settings)))
    except KeyCommandFailed as exc:
        parser.exit(1, f"{exc}\n")
    if configured:
        lines.insert(0, "JWT_PRIVATE_KEY(_FILE) is set: the configured key signs; the stored "
                        "keys below only verify")
    print("\n".join(lines))


def _database_url(settings: AuthSettings) -> URL:
    url = make_url(settings.effective_database_url)
    # Opening a missing SQLite file would create an empty database, and a wrong DATA_DIR
    # would then look like a database without keys.
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise KeyCommandFailed(f"no auth database at {url} (set DATABASE_URL or DATA_DIR as "
                             "for the auth service)")
    return url


async def _run(command: str, settings: AuthSettings, url: URL) -> list[str]:
    shown = url.render_as_string(hide_password=True)
    database = Database(url.render_as_string(hide_password=False), pool_size=1,
                        max_overflow=0)
    try:
        async with database.session() as session:
            lines = []
            if command == "rotate":
                new_kid, _ = await rotate(session)
                lines.append(f"rotated: {new_kid} signs from now on")
            rows = (await session.exec(
                select(SigningKey).order_by(col(SigningKey.created_at).desc()))).all()
    except IntegrityError as exc:
        raise KeyCommandFailed("another rotation committed at the same moment and won; this "
                             "one changed nothing") from exc
    except DBAPIError as exc:
        raise KeyCommandFailed(f"cannot use the signing keys at {shown}: {exc.orig}") from exc
    finally:
        await database.dispose()
    return lines + [_describe(row, settings) for row in rows]


def _describe(row: SigningKey, settings: AuthSettings) -> str:
    if row.replaced_at is None:
        return f"{row.kid}  created {_iso(row.created_at)}  signing"
    return (f"{row.kid}  created {_iso(row.created_at)}  replaced {_iso(row.replaced_at)}, "
            f"in the JWK set until {_iso(row.replaced_at + publication_period(settings))}, "
            f"deleted after {_iso(row.replaced_at + keeping_period(settings))}")


def _iso(moment: datetime) -> str:
    # SQLite gives back naive datetimes; every stored time is UTC.
    aware = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    main()
