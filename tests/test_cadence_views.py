"""What the cadence pages compute: the editor's form fields to a definition and back, its buttons,
errors by field, the timeline's days and reasons, and the differences between two versions."""
from __future__ import annotations

from datetime import datetime, timezone

from starlette.datastructures import FormData

from api import cadence_views as views
from api.routes.cadences import validated
from domain.cadences import Cadence, validate_cadence
from domain.simulation import simulate
from messaging.rendering import template_problem
from persistence.cadences import read_files, snapshot_from_file


def form_of(draft: dict) -> FormData:
    """The fields a browser posts for `draft`, as the editor's template names them."""
    items = [("description", draft["description"]), ("on_complete", draft["on_complete"])]
    items += [("ranks", r) for r in draft["ranks"]] + [("window-days", d) for d in draft["window"]["days"]]
    items += [("window-start", draft["window"]["start"]), ("window-end", draft["window"]["end"])]
    items += [(k, "1") for k in ("business_days", "pause_account", "repeat") if draft[k]]
    items += [("window-anytime", "1")] if draft["window"]["anytime"] else []
    items += [(f"holidays-{k}", v) for k, v in draft["holidays"].items()]
    for i, step in enumerate(draft["steps"]):
        items += [(f"steps-{i}-{k}", step[k]) for k in ("id", "channel", "wait", "sla", "expires", "subject",
                                                        "body", "instructions")]
        items += [(f"steps-{i}-anytime", "1")] if step["anytime"] else []
        for j, variant in enumerate(step["variants"]):
            items += [(f"steps-{i}-variants-{j}-{k}", v) for k, v in variant.items()]
    return FormData(items)


def test_every_default_cadence_survives_the_editor_unchanged():
    for definition in read_files():
        draft = views.draft_from_form(form := form_of(views.draft_from_definition(definition)), form.getlist)
        again = views.definition_from_draft(draft)
        assert validate_cadence({**again, "name": definition["name"]}, template_problem) == []
        before = Cadence.from_dict(definition).to_dict()
        assert Cadence.from_dict({**again, "name": definition["name"]}).to_dict() == before, definition["name"]


def test_buttons_add_remove_reorder_steps_and_variants_and_say_what_to_focus():
    draft = views.draft_from_definition(read_files()[1])  # rank-a
    ids = lambda: [s["id"] for s in draft["steps"]]  # noqa: E731
    first = ids()
    assert views.apply_action(draft, "add-step") == "steps-8-id" and ids()[-1] == "step-9"
    assert views.apply_action(draft, "remove:8") == "steps-7-id" and ids() == first
    assert views.apply_action(draft, "up:1") == "steps-0-id" and ids()[:2] == [first[1], first[0]]
    assert views.apply_action(draft, "down:0") == "down-1" and ids() == first
    assert views.apply_action(draft, "add-variant:0") == "steps-0-variants-2-id"
    assert [v["id"] for v in draft["steps"][0]["variants"]] == ["a", "b", "c"]
    assert views.apply_action(draft, "remove-variant:0:1") == "add-variant-0"
    assert [v["id"] for v in draft["steps"][0]["variants"]] == ["a", "c"]
    assert views.apply_action(draft, "remove:99") is None and views.apply_action(draft, "explode:1") is None


def test_empty_fields_are_absent_so_the_api_names_them_and_errors_find_their_field():
    draft = views.draft_from_definition(read_files()[2])  # rank-b
    draft["steps"][2]["body"] = "  "
    draft["steps"][2]["variants"] = [{"id": "", "subject": "x", "body": ""}]
    draft["steps"][3]["channel"] = "email"  # a call made an email keeps no instructions, needs a subject
    draft["holidays"]["dates"] = "2026-12-24, 24.12.2026"
    try:
        validated({**views.definition_from_draft(draft), "name": "rank-b"})
    except Exception as exc:  # the API's own 422
        detail = exc.detail
    errors = views.errors_by_field(detail, views.field_names(draft))
    assert "steps-2-variants-0-id" in errors and "steps-3-subject" in errors and "steps-3-body" in errors
    assert "steps-2-body" not in errors and "steps-2-variants-0-body" in errors  # with variants, each needs one
    assert errors["holidays-dates"] == ["'24.12.2026' is not a date such as 2026-12-24"]  # holidays.dates.1
    assert views.field_title("steps-2-variants-0-id") == "Step 3, variant 1, id"


def test_the_timeline_marks_weekends_holidays_and_says_why_a_step_moved():
    cadence = Cadence.from_dict({**snapshot_from_file("rank-b").to_dict(), "holidays": {"country": "US"}})
    start = datetime(2026, 1, 16, 21, 0, tzinfo=timezone.utc)  # Friday 16:00 in New York
    steps, days = views.timeline(cadence, simulate(cadence, start, "America/New_York"), start, "America/New_York")
    by_day = {d.day.isoformat(): d for d in days}
    assert by_day["2026-01-17"].off == "weekend" and by_day["2026-01-19"].off == "Martin Luther King Jr. Day"
    assert [s.id for s in by_day["2026-01-16"].steps] == ["b-intro-email", "b-first-call"]
    third = steps[2]
    assert third.local.strftime("%a %d %H:%M") == "Wed 21 17:00"
    assert third.moved == ("the wait alone ends Sun 18 Jan 17:00; later in business days because of the weekend, "
                           "Martin Luther King Jr. Day")
    assert steps[0].moved is None and steps[1].moved is None

    night = datetime(2026, 1, 14, 3, 0, tzinfo=timezone.utc)  # Tuesday 22:00 in New York: rank-b's first email
    steps, _ = views.timeline(cadence, simulate(cadence, night, "America/New_York"), night, "America/New_York")
    assert steps[0].moved == ("the wait alone ends Tue 13 Jan 22:00; later because of the send window "
                              "(Mon–Fri 08:00–18:00)")


def test_long_quiet_runs_are_one_row():
    cadence = snapshot_from_file("nurture")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    _, days = views.timeline(cadence, simulate(cadence, start, "UTC"), start, "UTC")
    quiet = [d for d in days if d.quiet]
    assert len(days) < 30 and quiet and all(d.quiet >= views.QUIET_RUN for d in quiet)
    assert sum(d.quiet for d in quiet) + sum(1 for d in days if not d.quiet) == (days[-1].day - days[0].day).days + 1


def test_the_diff_matches_steps_by_id():
    old = snapshot_from_file("rank-b").to_dict()
    new = {**old, "holidays": {"country": "US"}, "steps": [dict(s) for s in old["steps"]]}
    new["steps"][2]["body"] = "Hi {{ first_name or 'there' }},\n\nshort one.\n"
    new["steps"][3], new["steps"][4] = new["steps"][4], new["steps"][3]
    removed = new["steps"].pop(5)
    new["steps"].append({"id": "b-text", "channel": "sms", "wait": "P1D", "body": "Hi"})
    settings, steps = views.diff_definitions(old, new)
    assert [(c.field, c.before, c.after) for c in settings] == [("holidays", None, {"country": "US"})]
    status = {d.id: (d.status, d.old_position, d.position) for d in steps}
    assert status["b-follow-up-email"] == ("changed", 3, 3)
    assert status["b-linkedin"] == ("moved", 4, 5) and status["b-second-call"] == ("moved", 5, 4)
    assert status[removed["id"]] == ("removed", 6, None) and status["b-text"] == ("added", None, 7)
    body = next(d for d in steps if d.id == "b-follow-up-email").changes[0]
    assert body.field == "body" and body.lines[:2] == [(" ", "Hi {{ first_name or 'there' }},"), (" ", "")]
    assert [op for op, _ in body.lines[2:]] == ["-", "-", "-", "+"]  # what went, then what came
    assert body.lines[-1] == ("+", "short one.")
