"""Request bodies are bounded where they come in: every refusal names its field, and what is
accepted fits the columns and ids it ends up in."""
from __future__ import annotations

import json
import time

import pytest
from pydantic import ValidationError

from api.routes.mailboxes import MailboxCreate, MailboxUpdate
from api.schemas import EVENT_ID, LeadCreate, RankingUpdate, RepCreate, SignalBody
from domain.capacity import MAX_DAILY_CAP, MAX_HOURLY_CAP
from domain.payloads import MAX_CUSTOM_BYTES, custom_fields_problem
from persistence.models import Lead, LeadEventRecord, Task
from scripts.load_cadences import load


def refused(model, **body) -> list[tuple]:
    with pytest.raises(ValidationError) as raised:
        model(**body)
    return [tuple(e["loc"]) for e in raised.value.errors()]


LEAD = {"email": "grace@example.com", "source": "form_fill"}


def test_custom_fields_within_bounds_are_kept() -> None:
    custom = {f"field_{i}": "v" * 250 for i in range(50)}
    custom.update(field_0=42, field_1=1.5, field_2=True, field_3=None, field_4=["a", 2, None])
    assert LeadCreate(**LEAD, custom=custom).custom == custom


@pytest.mark.parametrize(("custom", "says"), [
    ({f"k{i}": 1 for i in range(51)}, "at most 50"),
    ({"k" * 65: 1}, "1 to 64 characters"),
    ({"": 1}, "1 to 64 characters"),
    ({"notes": "n" * 2001}, "at most 2000 characters"),
    ({f"k{i}": "v" * 1999 for i in range(9)}, f"{MAX_CUSTOM_BYTES // 1024} KB"),
    ({"nested": {"a": 1}}, "text, numbers"),
    ({"deep": [[1]]}, "text, numbers"),
    ({"tags": list(range(51))}, "at most 50 items"),
    ({"score": float("nan")}, "finite"),
    ({"score": float("inf")}, "finite"),
])
def test_custom_fields_out_of_bounds_are_a_422_on_custom(custom: dict, says: str) -> None:
    assert refused(LeadCreate, **LEAD, custom=custom) == [("custom",)]
    assert says in custom_fields_problem(custom)


def test_non_finite_numbers_in_json_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        LeadCreate.model_validate_json(json.dumps({**LEAD, "custom": {"score": float("nan")}}))
    assert [e["loc"] for e in raised.value.errors()] == [("custom",)]


@pytest.mark.parametrize(("field", "value"), [
    ("source", "s" * 65), ("cadence", "c" * 101), ("timezone", "a" * 300), ("phone", "1" * 41),
    ("first_name", "f" * 121), ("company", "c" * 201),
])
def test_lead_strings_are_bounded_by_their_columns(field: str, value: str) -> None:
    assert refused(LeadCreate, **{**LEAD, field: value}) == [(field,)]


def test_lead_string_bounds_match_the_columns() -> None:
    columns = Lead.__table__.c
    for field in ("source", "first_name", "last_name", "company", "title", "source_detail", "owner", "timezone"):
        limit = next(m.max_length for m in LeadCreate.model_fields[field].metadata if hasattr(m, "max_length"))
        assert limit <= columns[field].type.length, field
    assert LeadCreate.model_fields["cadence"].metadata[0].max_length <= columns["cadence_name"].type.length


def test_event_ids_fit_every_id_built_from_them() -> None:
    longest = "e" * 80
    assert SignalBody(event_id=longest).event_id == longest
    lead_id = "L" * 12  # persistence.leads.new_lead_id
    follow_up = f"{lead_id}-{longest}"  # a follow-up or hand-off task
    assert len(follow_up) <= Task.__table__.c.id.type.length
    step_task = f"{lead_id}-{10 ** 12}-{'s' * 64}"  # the longest step task (see domain.cadences)
    event_column = LeadEventRecord.__table__.c.event_id.type.length
    for task_id in (follow_up, step_task):
        for recorded in (f"reassign-{longest}-{task_id}", f"task-{task_id}", f"sla-{task_id}", f"away-{task_id}",
                         f"account-{longest}"):
            assert len(recorded) <= event_column, recorded


@pytest.mark.parametrize("event_id", ["e" * 81, "a/b", "a b", "", "-x", "a?b=c", "é"])
def test_event_ids_that_do_not_fit_or_would_break_a_path_are_refused(event_id: str) -> None:
    assert refused(SignalBody, event_id=event_id) == [("event_id",)]


def test_event_id_pattern_keeps_the_ids_in_use() -> None:
    import re

    for event_id in ("mail-42", "m-1", "call:81", "msg.abc@example.com", "x"):
        assert re.match(EVENT_ID, event_id)


def test_signal_phone_is_e164_and_other_strings_bounded() -> None:
    assert SignalBody(phone="+1 (415) 555-0100").phone == "+14155550100"
    assert refused(SignalBody, phone="x" * 30) == [("phone",)]
    assert refused(SignalBody, notes="n" * 5001) == [("notes",)]
    assert refused(SignalBody, text="t" * 20001) == [("text",)]
    assert refused(SignalBody, owner="o" * 65) == [("owner",)]


def test_mailbox_caps_are_bounded_and_hourly_within_daily() -> None:
    assert MailboxCreate(email="a@example.com", daily_cap=MAX_DAILY_CAP, hourly_cap=MAX_HOURLY_CAP).daily_cap
    assert refused(MailboxCreate, email="a@example.com", daily_cap=MAX_DAILY_CAP + 1) == [("daily_cap",)]
    assert refused(MailboxCreate, email="a@example.com", hourly_cap=MAX_HOURLY_CAP + 1) == [("hourly_cap",)]
    assert refused(MailboxCreate, email="a@example.com", daily_cap=10, hourly_cap=11) == [("hourly_cap",)]
    assert refused(MailboxCreate, email="a@example.com", ramp=[5, MAX_DAILY_CAP + 1]) == [("ramp", 1)]
    assert MailboxCreate(email="a@example.com", daily_cap=10, hourly_cap=10).hourly_cap == 10
    assert MailboxCreate(email="a@example.com", hourly_cap=500).hourly_cap == 500  # no daily cap: any hourly
    assert refused(MailboxUpdate, daily_cap=MAX_DAILY_CAP + 1) == [("daily_cap",)]


def test_rep_and_ranking_bodies_are_bounded() -> None:
    rep = {"name": "Ana", "email": "ana@example.com"}
    assert refused(RepCreate, **rep, backup_id="b" * 65) == [("backup_id",)]
    assert refused(RepCreate, **rep, territories=["US"] * 251) == [("territories",)]
    assert refused(RankingUpdate, sources={"s" * 65: "A"}, cadences={}) == [("sources", "s" * 65, "[key]")]
    assert refused(RankingUpdate, sources={}, cadences={"A": "c" * 101}) == [("cadences", "A")]


def test_the_yaml_loader_refuses_a_template_bomb_naming_its_field(tmp_path, capsys) -> None:
    from pathlib import Path

    source = (Path(__file__).resolve().parent.parent / "cadences" / "rank-b.yaml").read_text()
    bomb = source.replace("subject: \"{{ first_name or 'Hi' }}, a follow-up on your visit\"",
                          "subject: \"{{ 9**9**9 }}\"")
    assert bomb != source
    (tmp_path / "rank-b.yaml").write_text(bomb)
    started = time.monotonic()
    assert load(tmp_path, url=f"sqlite:///{tmp_path / 'never-opened.db'}") == 1
    assert time.monotonic() - started < 1
    err = capsys.readouterr().err
    assert "rank-b: steps[0].subject: '**' is not allowed" in err
    assert not (tmp_path / "never-opened.db").exists()


def test_a_new_address_from_contact_updated_is_normalised_like_a_new_lead():
    from api.schemas import LeadCreate, SignalBody

    assert SignalBody(email="  Grace@Navy.MIL ").email == LeadCreate(email="grace@navy.mil", source="x").email
