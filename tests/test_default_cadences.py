from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from domain.cadences import Cadence, validate_cadence
from domain.durations import parse_duration
from domain.ranks import DEFAULT_RANK_CADENCES, NURTURE_CADENCE
from domain.schedule import plan
from messaging.rendering import template_problem

CADENCE_DIR = Path(__file__).resolve().parent.parent / "cadences"
FILES = sorted(CADENCE_DIR.glob("*.yaml"))
RANK_NAMES = ["rank-a", "rank-b", "rank-c", "rank-d"]
MONDAY_9_UTC = datetime(2024, 6, 3, 9, 0, tzinfo=timezone.utc)


def load(name: str) -> dict:
    return yaml.safe_load((CADENCE_DIR / f"{name}.yaml").read_text())


def waits(data: dict) -> list[timedelta]:
    return [parse_duration(s["wait"]) for s in data["steps"]]


def span(name: str) -> timedelta:
    data = load(name)
    cadence = Cadence.from_dict(data)
    due = plan(MONDAY_9_UTC, waits(data), tz="UTC", window=cadence.window(), business_days=cadence.business_days)
    return due[-1] - MONDAY_9_UTC


def test_plan_start_is_a_monday() -> None:
    assert MONDAY_9_UTC.weekday() == 0


def test_all_expected_files_exist() -> None:
    names = {p.stem for p in FILES}
    assert names == set(RANK_NAMES) | {NURTURE_CADENCE}
    assert set(DEFAULT_RANK_CADENCES.values()) == set(RANK_NAMES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_default_cadence_validates(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert validate_cadence(data, template_problem) == []
    assert data["name"] == path.stem


@pytest.mark.parametrize("name", RANK_NAMES)
def test_rank_cadence_has_enough_steps_and_channels(name: str) -> None:
    data = load(name)
    assert len(data["steps"]) >= 6
    assert len({s["channel"] for s in data["steps"]}) >= 2
    assert data["ranks"] == [name[-1].upper()]
    assert data["on_complete"] == "nurture"


def test_rank_a_shape() -> None:
    data = load("rank-a")
    steps = data["steps"]
    assert len(steps) == 8
    assert steps[0]["channel"] == "email"
    assert steps[0]["wait"] == "PT0S"
    first_call = next(i for i, s in enumerate(steps) if s["channel"] == "call")
    assert sum(waits(data)[: first_call + 1], timedelta()) <= timedelta(minutes=5)


def test_rank_a_has_more_touches_than_rank_d() -> None:
    assert len(load("rank-a")["steps"]) > len(load("rank-d")["steps"])


def test_rank_a_is_shorter_than_rank_d() -> None:
    assert span("rank-a") < span("rank-d")


def test_rank_a_fits_in_ten_business_days() -> None:
    # The waits add up to 10 business days (+5 minutes): from a Monday, the last touch is two Mondays on.
    assert sum(waits(load("rank-a")), timedelta()) == timedelta(days=10, minutes=5)
    assert span("rank-a") == timedelta(days=14, minutes=5)


def test_rank_d_spans_about_thirty_days() -> None:
    assert timedelta(days=28) <= span("rank-d") <= timedelta(days=35)


def test_nurture() -> None:
    data = load("nurture")
    assert data["repeat"] is True
    assert Cadence.from_dict(data).repeat is True
    channels = [s["channel"] for s in data["steps"]]
    assert channels == ["email", "call"] * (len(channels) // 2)
    assert len(channels) >= 2
    assert all(s["wait"] == "P30D" for s in data["steps"])
