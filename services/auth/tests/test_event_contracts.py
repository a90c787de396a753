"""Consumer-driven contract: the events auth consumes, as it relies on them, must
parse with their producers' models (``shared.contracts``). A producer change that breaks
one of these payloads fails here, in the consumer's tests."""

from __future__ import annotations

from testsupport.contracts import Relied, broken_expectations, uncovered

RELIED_ON: list[Relied] = [
    # (type, producer, payload as sent, what the handler reads from it)
    ("referral.credited", "engagement",
     {"referralId": "r1", "referrerUserId": "u1", "referredUserId": "u2", "reward": 1},
     {"referral_id": "r1", "referrer_user_id": "u1"}),
]


def test_the_producers_models_accept_what_auth_relies_on() -> None:
    assert broken_expectations(RELIED_ON) == []


def test_every_type_auth_consumes_is_covered() -> None:
    assert uncovered("auth", RELIED_ON) == set()
