import re
from datetime import timedelta

import pytest

from domain.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P2D", timedelta(days=2)),
        ("PT4H", timedelta(hours=4)),
        ("PT30S", timedelta(seconds=30)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT0S", timedelta(0)),
        ("P1W", timedelta(days=7)),
        ("P0D", timedelta(0)),
        ("PT90M", timedelta(minutes=90)),
        ("PT1.5S", timedelta(seconds=1, milliseconds=500)),
    ],
)
def test_parse_valid(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("P1M", "month"),
        ("P1Y", "month"),
        ("P1Y2M3D", "month"),
        ("-P1D", "negative"),
        ("P", "ISO-8601"),
        ("PT", "ISO-8601"),
        ("P1DT", "ISO-8601"),
        ("", "ISO-8601"),
        ("2D", "ISO-8601"),
        ("p2d", "ISO-8601"),
        ("P1.5D", "ISO-8601"),
        ("PT1M2H", "ISO-8601"),
        ("P2D ", "ISO-8601"),
        ("soon", "ISO-8601"),
    ],
)
def test_parse_rejects_and_names_the_text(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))) as exc:
        parse_duration(text)
    assert reason in str(exc.value)


def test_parse_rejects_non_string() -> None:
    with pytest.raises(ValueError):
        parse_duration(2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(days=2), "P2D"),
        (timedelta(minutes=90), "PT1H30M"),
        (timedelta(0), "PT0S"),
        (timedelta(days=1, hours=2, minutes=30), "P1DT2H30M"),
        (timedelta(weeks=1), "P7D"),
        (timedelta(seconds=30), "PT30S"),
        (timedelta(days=1, seconds=5), "P1DT5S"),
        (timedelta(seconds=1, milliseconds=250), "PT1.25S"),
    ],
)
def test_format(td: timedelta, expected: str) -> None:
    assert format_duration(td) == expected
    assert parse_duration(expected) == td  # canonical form round-trips


def test_format_rejects_negative() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(seconds=-1))
