import copy

import pytest

from domain.cadences import Cadence, Problem, validate_cadence
from messaging.rendering import template_problem


def valid() -> dict:
    return {
        "name": "test-cadence",
        "ranks": ["A", "B"],
        "description": "for tests",
        "business_days": True,
        "send_window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"},
        "on_complete": "nurture",
        "steps": [
            {
                "id": "s0",
                "channel": "email",
                "wait": "PT0S",
                "anytime": True,
                "variants": [
                    {"id": "a", "subject": "Hi {{ first_name }}", "body": "Body A {{ sender_name }}"},
                    {"id": "b", "subject": "Hello {{ company }}", "body": "Body B"},
                ],
            },
            {"id": "s1", "channel": "call", "wait": "PT5M", "instructions": "Call {{ full_name }}",
             "sla": "PT15M", "expires": "PT4H"},
            {"id": "s2", "channel": "linkedin", "wait": "P1D", "instructions": "Connect"},
            {"id": "s3", "channel": "email", "wait": "P1D", "subject": "Re: {{ first_name }}", "body": "Follow up"},
            {"id": "s4", "channel": "sms", "wait": "P2D", "body": "Hi {{ first_name }}"},
            {"id": "s5", "channel": "call", "wait": "P3D", "instructions": "Last call"},
        ],
    }


def problems(data) -> list[Problem]:
    return validate_cadence(data, template_problem)


def fields(data) -> list[str]:
    return [p.field for p in problems(data)]


def test_valid_definition_has_no_problems() -> None:
    assert problems(valid()) == []


def test_valid_definition_without_template_check_has_no_problems() -> None:
    assert validate_cadence(valid()) == []


def test_non_dict_is_one_problem() -> None:
    assert validate_cadence(["steps"]) == [Problem("", "a cadence must be a JSON object")]


def test_fewer_than_six_steps() -> None:
    data = valid()
    data["steps"] = data["steps"][:5]
    found = problems(data)
    assert [p.field for p in found] == ["steps"]
    assert "5 steps" in found[0].message and "at least 6" in found[0].message


def test_single_channel() -> None:
    data = valid()
    data["steps"] = [
        {"id": f"e{i}", "channel": "email", "wait": "P1D", "subject": "S", "body": "B"} for i in range(6)
    ]
    found = problems(data)
    assert [p.field for p in found] == ["steps"]
    assert "1 channel" in found[0].message and "at least 2" in found[0].message


def test_unknown_channel() -> None:
    data = valid()
    data["steps"][2]["channel"] = "fax"
    found = problems(data)
    assert [p.field for p in found] == ["steps[2].channel"]
    assert "'fax'" in found[0].message


def test_negative_wait() -> None:
    data = valid()
    data["steps"][3]["wait"] = "-P1D"
    found = problems(data)
    assert [p.field for p in found] == ["steps[3].wait"]
    assert "negative" in found[0].message


@pytest.mark.parametrize("wait", ["two days", "P1M", "P", "2D"])
def test_unparseable_wait(wait: str) -> None:
    data = valid()
    data["steps"][1]["wait"] = wait
    found = problems(data)
    assert [p.field for p in found] == ["steps[1].wait"]
    assert repr(wait) in found[0].message


def test_missing_wait() -> None:
    data = valid()
    del data["steps"][1]["wait"]
    assert fields(data) == ["steps[1].wait"]


@pytest.mark.parametrize("key", ["sla", "expires"])
def test_bad_sla_and_expires(key: str) -> None:
    data = valid()
    data["steps"][1][key] = "soon"
    assert fields(data) == [f"steps[1].{key}"]


def test_template_that_does_not_compile() -> None:
    data = valid()
    data["steps"][3]["body"] = "Hi {% if first_name %}"
    found = problems(data)
    assert [p.field for p in found] == ["steps[3].body"]
    assert "does not compile" in found[0].message


def test_template_with_unknown_variable() -> None:
    data = valid()
    data["steps"][3]["subject"] = "Hi {{ nickname }}"
    found = problems(data)
    assert [p.field for p in found] == ["steps[3].subject"]
    assert "nickname" in found[0].message


def test_template_problem_in_instructions_and_variant() -> None:
    data = valid()
    data["steps"][1]["instructions"] = "Call {{ mobile }}"
    data["steps"][0]["variants"][1]["body"] = "{{ "
    assert fields(data) == ["steps[0].variants[1].body", "steps[1].instructions"]


def test_template_not_checked_without_check() -> None:
    data = valid()
    data["steps"][3]["body"] = "Hi {{ nickname }}"
    assert validate_cadence(data) == []


def test_missing_subject_on_email_step() -> None:
    data = valid()
    del data["steps"][3]["subject"]
    found = problems(data)
    assert [p.field for p in found] == ["steps[3].subject"]
    assert "required" in found[0].message


def test_missing_instructions_on_call_step() -> None:
    data = valid()
    del data["steps"][5]["instructions"]
    assert fields(data) == ["steps[5].instructions"]


def test_non_text_body() -> None:
    data = valid()
    data["steps"][4]["body"] = 42
    assert fields(data) == ["steps[4].body"]


def test_variant_without_id() -> None:
    data = valid()
    del data["steps"][0]["variants"][0]["id"]
    assert fields(data) == ["steps[0].variants[0].id"]


def test_variant_may_inherit_the_step_subject() -> None:
    data = valid()
    data["steps"][0]["subject"] = "Step subject"
    del data["steps"][0]["variants"][0]["subject"]
    assert problems(data) == []


def test_subject_missing_on_both_step_and_variant() -> None:
    data = valid()
    del data["steps"][0]["variants"][0]["subject"]  # the step has no subject either
    assert "steps[0].variants[0].subject" in fields(data) or "steps[0].subject" in fields(data)


def test_duplicate_step_id() -> None:
    data = valid()
    data["steps"][4]["id"] = "s1"
    found = problems(data)
    assert [p.field for p in found] == ["steps[4].id"]
    assert "duplicate" in found[0].message and "'s1'" in found[0].message


def test_missing_step_id() -> None:
    data = valid()
    del data["steps"][2]["id"]
    assert fields(data) == ["steps[2].id"]


@pytest.mark.parametrize(
    "window",
    [
        {"days": []},
        {"days": ["monday"]},
        {"start": "18:00", "end": "08:00"},
        {"start": "8am"},
        {"hours": "all"},
        "weekdays",
    ],
)
def test_bad_send_window(window) -> None:
    data = valid()
    data["send_window"] = window
    assert fields(data) == ["send_window"]


def test_null_send_window_is_allowed() -> None:
    data = valid()
    data["send_window"] = None
    assert problems(data) == []


@pytest.mark.parametrize("ranks", [["E"], ["a"], "A", ["A", "X"]])
def test_bad_ranks(ranks) -> None:
    data = valid()
    data["ranks"] = ranks
    assert fields(data) == ["ranks"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("name", ""), ("name", "has space"), ("on_complete", "archive"), ("business_days", "yes")],
)
def test_bad_top_level_fields(key: str, value) -> None:
    data = valid()
    data[key] = value
    assert fields(data) == [key]


def test_steps_not_a_list() -> None:
    data = valid()
    data["steps"] = {"s0": {}}
    assert fields(data) == ["steps"]


def test_many_problems_at_once() -> None:
    data = valid()
    data["name"] = ""
    data["ranks"] = ["Z"]
    data["send_window"] = {"days": []}
    data["steps"] = [
        {"id": "x", "channel": "email", "wait": "-P1D", "body": "{{ nope }}"},
        {"id": "x", "channel": "email", "wait": "soon", "subject": "{% if %}", "body": "ok"},
        {"id": "y", "channel": "fax", "wait": "P1D"},
    ]
    assert fields(data) == [
        "name",
        "ranks",
        "send_window",
        "steps",  # fewer than six
        "steps",  # one channel
        "steps[0].wait",
        "steps[0].subject",
        "steps[0].body",
        "steps[1].id",
        "steps[1].wait",
        "steps[1].subject",
        "steps[2].channel",
    ]


def test_round_trip_keeps_steps_and_variants() -> None:
    data = valid()
    original = copy.deepcopy(data)
    out = Cadence.from_dict(data).to_dict()
    assert data == original  # from_dict does not mutate its input
    for key in ("name", "ranks", "description", "business_days", "send_window", "on_complete"):
        assert out[key] == data[key]
    assert [s["id"] for s in out["steps"]] == ["s0", "s1", "s2", "s3", "s4", "s5"]
    for got, want in zip(out["steps"], data["steps"]):
        for key, value in want.items():
            if key == "variants":
                assert got["variants"] == [{"id": v["id"], "subject": v.get("subject"), "body": v.get("body")}
                                           for v in value]
            else:
                assert got[key] == value
    assert out["steps"][0]["variants"][1] == {"id": "b", "subject": "Hello {{ company }}", "body": "Body B"}
    assert out["steps"][3]["variants"] == []
    # The output is itself valid and round-trips unchanged.
    assert problems(out) == []
    assert Cadence.from_dict(out).to_dict() == out


def test_from_dict_defaults_and_step_defaults() -> None:
    cadence = Cadence.from_dict(valid())
    call = cadence.steps[1]
    assert call.sla_or_default() == "PT15M" and call.expires_or_default() == "PT4H"
    assert cadence.steps[5].sla_or_default() == "PT4H"
    assert cadence.steps[5].expires_or_default() == "P2D"
    assert cadence.steps[0].is_task is False and call.is_task is True
    assert cadence.steps[0].anytime is True and call.anytime is False
    assert cadence.repeat is False and cadence.version == 1
