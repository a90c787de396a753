"""The consumer-driven contract checks (testsupport.contracts) report what they should."""

from __future__ import annotations

from testsupport.contracts import broken_expectations, uncovered

CREDITED = {"referralId": "r1", "referrerUserId": "u1", "referredUserId": "u2", "reward": 1}


def test_a_payload_the_producer_no_longer_takes_is_reported() -> None:
    renamed = {k if k != "referrerUserId" else "referrer": v for k, v in CREDITED.items()}
    problems = broken_expectations([("referral.credited", "engagement", renamed, {})])
    assert len(problems) == 1 and problems[0].startswith("referral.credited: ")


def test_a_field_read_differently_is_reported() -> None:
    assert broken_expectations([("referral.credited", "engagement", CREDITED,
                                 {"referral_id": "r2"})]) == [
        "referral.credited: reads {'referral_id': 'r1'}, the consumer relies on "
        "{'referral_id': 'r2'}"]


def test_a_consumed_type_without_a_payload_is_reported() -> None:
    assert uncovered("auth", []) == {"referral.credited"}
