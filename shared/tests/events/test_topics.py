import pytest

from shared.events import topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("user.registered", "user.registered", True),
        ("user.registered", "user.deleted", False),
        ("vehicle.*", "vehicle.created", True),
        ("vehicle.*", "vehicle", False),
        ("vehicle.*", "vehicle.a.b", False),
        ("*.created", "location.created", True),
        ("telematics.#", "telematics", True),
        ("telematics.#", "telematics.batch.ingested", True),
        ("telematics.#", "telematic.alert", False),
        ("#", "anything.at.all", True),
        ("#.ingested", "telematics.batch.ingested", True),
        ("a.#.z", "a.z", True),
        ("a.#.z", "a.b.c.z", True),
        ("a.#.z", "a.b.c", False),
        ("a.*.#", "a", False),
        ("a.*.#", "a.b", True),
    ],
)
def test_topic_matching_follows_rabbitmq(pattern: str, key: str, expected: bool) -> None:
    assert topic_matches(pattern, key) is expected
