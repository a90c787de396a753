"""Migrations keep existing rows right: referrals credited under the boolean
``rewards_applied`` become ``{"rewardsBalance": 1}``, the others ``{}``, and back."""

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from engagement.app import MIGRATIONS
from shared.db import sync_url
from shared.migrations import alembic_config

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def rows(engine: sa.Engine) -> dict[str, object]:
    with engine.connect() as connection:
        return dict(connection.execute(sa.text(
            "SELECT id, rewards_applied FROM referrals ORDER BY id")).all())


def test_credited_flags_become_the_reward_object_and_back(database_url):
    config = alembic_config(MIGRATIONS, database_url)
    command.upgrade(config, "0002")
    engine = sa.create_engine(sync_url(database_url))
    referrals = sa.table("referrals", *(sa.column(name) for name in (
        "id", "referrer_user_id", "referred_user_id", "code", "status", "rewards_applied",
        "created_at")))
    try:
        with engine.begin() as connection:
            connection.execute(referrals.insert(), [
                {"id": "a-credited", "referrer_user_id": "r", "referred_user_id": "u1",
                 "code": "REF-AAAAAA", "status": "credited", "rewards_applied": True,
                 "created_at": CREATED},
                {"id": "b-signed-up", "referrer_user_id": "r", "referred_user_id": "u2",
                 "code": "REF-AAAAAA", "status": "signed_up", "rewards_applied": False,
                 "created_at": CREATED}])
        command.upgrade(config, "head")
        upgraded = rows(engine)
        # PostgreSQL's json comes back decoded; SQLite's is text.
        decoded = {key: value if isinstance(value, dict) else json.loads(value)
                   for key, value in upgraded.items()}
        assert decoded == {"a-credited": {"rewardsBalance": 1}, "b-signed-up": {}}
        command.downgrade(config, "0002")
        assert {key: bool(value) for key, value in rows(engine).items()} == {
            "a-credited": True, "b-signed-up": False}
    finally:
        engine.dispose()
