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


# --- bounds ---------------------------------------------------------------------


@pytest.mark.parametrize("key", ["wait", "sla", "expires"])
def test_durations_longer_than_a_year_are_refused(key: str) -> None:
    data = valid()
    data["steps"][1][key] = "P365D"
    assert problems(data) == []
    for too_long in ("P366D", "P53W", "P365DT1S", "PT8761H"):
        data["steps"][1][key] = too_long
        found = problems(data)
        assert [p.field for p in found] == [f"steps[1].{key}"], too_long
        assert "P365D" in found[0].message


def test_at_most_fifty_steps_and_the_count_is_the_only_problem() -> None:
    data = valid()
    data["steps"] = [dict(data["steps"][i % 6], id=f"s{i}") for i in range(50)]
    assert problems(data) == []
    data["steps"].append(dict(data["steps"][0], id="s50"))
    found = problems(data)
    assert [p.field for p in found] == ["steps"]
    assert "51 steps" in found[0].message and "at most 50" in found[0].message
    data["steps"] = [{"id": "x", "channel": "fax", "wait": "soon"}] * 1_000  # not a thousand problems each
    assert [p.field for p in problems(data)] == ["steps"]


def test_at_most_ten_variants_per_step() -> None:
    data = valid()
    data["steps"][0]["variants"] = [{"id": f"v{j}", "subject": "S", "body": "B"} for j in range(10)]
    assert problems(data) == []
    data["steps"][0]["variants"].append({"id": "v10", "subject": "S", "body": "B"})
    found = problems(data)
    assert [p.field for p in found] == ["steps[0].variants"]
    assert "11 variants" in found[0].message


def test_variant_ids_fit_their_column() -> None:
    data = valid()
    data["steps"][0]["variants"][1]["id"] = "v" * 41
    assert fields(data) == ["steps[0].variants[1].id"]
    data["steps"][0]["variants"][1]["id"] = 7
    assert fields(data) == ["steps[0].variants[1].id"]


@pytest.mark.parametrize("step_id", ["s" * 65, "has space", "a/b", "-leading", "é", "a?b"])
def test_step_ids_are_short_plain_words(step_id: str) -> None:
    data = valid()
    data["steps"][2]["id"] = step_id
    found = problems(data)
    assert [p.field for p in found] == ["steps[2].id"]
    assert "at most 64" in found[0].message


def test_the_longest_step_id_fits_every_id_built_from_it() -> None:
    from persistence.models import Task, Touch

    data = valid()
    data["steps"][2]["id"] = "s" * 64
    assert problems(data) == []
    lead_id, cycle = "L" * 12, 10 ** 12  # a nurture lead going round monthly never gets near
    touch_id = f"{lead_id}-{cycle}-{data['steps'][2]['id']}"
    assert len(touch_id) <= Touch.__table__.c.id.type.length == Task.__table__.c.id.type.length
    assert len(data["steps"][2]["id"]) <= Touch.__table__.c.step_id.type.length


def test_cadence_name_fits_its_column() -> None:
    from persistence.models import CadenceVersion

    limit = CadenceVersion.__table__.c.name.type.length
    data = valid()
    data["name"] = "n" * limit
    assert problems(data) == []
    data["name"] = "n" * (limit + 1)
    found = problems(data)
    assert [p.field for p in found] == ["name"] and f"at most {limit}" in found[0].message


def test_description_is_bounded_text() -> None:
    data = valid()
    data["description"] = "d" * 2001
    assert fields(data) == ["description"]
    data["description"] = {"not": "text"}
    assert fields(data) == ["description"]


@pytest.mark.parametrize(("key", "limit"), [("subject", 1_000), ("body", 20_000)])
def test_content_text_length_is_bounded(key: str, limit: int) -> None:
    data = valid()
    data["steps"][3][key] = "x" * limit
    assert problems(data) == []
    data["steps"][3][key] = "x" * (limit + 1)
    found = problems(data)
    assert [p.field for p in found] == [f"steps[3].{key}"]
    assert f"at most {limit}" in found[0].message
    assert validate_cadence(data) == found  # bounded even without the template check


def test_instructions_length_is_bounded() -> None:
    data = valid()
    data["steps"][2]["instructions"] = "x" * 20_001
    assert fields(data) == ["steps[2].instructions"]


def test_a_definition_larger_than_its_bound_is_one_problem() -> None:
    data = valid()
    # every field within its own bound, the whole too large to travel in each lead's workflow input
    data["steps"] = [dict(data["steps"][3], id=f"s{i}", body="b" * 19_000) for i in range(49)] + data["steps"][:1]
    found = problems(data)
    assert [p.field for p in found] == [""] and "KB" in found[0].message


def test_a_self_repeating_structure_is_refused_at_once() -> None:
    import time

    # What YAML anchors can build: one small list referenced ten times per level, 10^9 leaves.
    bomb: list = ["x" * 10]
    for _ in range(9):
        bomb = [bomb] * 10
    data = valid()
    data["holidays"] = {"dates": bomb}
    started = time.monotonic()
    found = problems(data)
    assert time.monotonic() - started < 1
    assert [p.field for p in found] == [""]


def test_custom_holiday_dates_are_bounded() -> None:
    data = valid()
    data["holidays"] = {"dates": [f"2026-01-{d:02d}" for d in range(1, 29)] * 14}  # 392 entries
    found = problems(data)
    assert [p.field for p in found] == ["holidays.dates"] and "at most 366" in found[0].message


@pytest.mark.parametrize(("text", "construct"), [
    ("{{ ''.__class__ }}", "'__class__'"),
    ("{{ 'x' * 50000000 }}", "'*'"),
    ("{{ 9**9**9 }}", "'**'"),
    ("{% for i in range(1000000000) %}x{% endfor %}", "loop"),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "macro"),
    ("{{ first_name | center(999999999) }}", "'center'"),
])
def test_template_bombs_name_the_field_and_are_refused_fast(text: str, construct: str) -> None:
    import time

    data = valid()
    data["steps"][2]["instructions"] = text
    started = time.monotonic()
    found = problems(data)
    assert time.monotonic() - started < 1
    assert [p.field for p in found] == ["steps[2].instructions"]
    assert construct in found[0].message
