"""Step content can never take unbounded time or memory, and what passes the check renders for any lead."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from domain.cadences import CONTENT_FIELDS
from messaging.rendering import (
    MAX_RENDERED_CHARS, MAX_TEMPLATE_CHARS, SAMPLE_LEAD, TemplateError, render, template_context, template_problem,
)
from persistence.models import Lead

CADENCE_DIR = Path(__file__).resolve().parent.parent / "cadences"
LEAD = {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "company": "Navy",
        "custom": {"plan": "enterprise", "seats": 40, "items": "the items field", "note": None, "tags": ["a", "b"]}}


def fast_refusal(text: str) -> str:
    """The check's message, and that both the check and a render refuse within a second of CPU time
    (of this thread: what other processes do to the machine does not count)."""
    started = time.thread_time()
    problem = template_problem(text)
    assert problem is not None, text
    with pytest.raises(TemplateError) as raised:
        render(text, template_context(LEAD))
    assert time.thread_time() - started < 1, text
    assert str(raised.value) == problem  # the same check at save time and before rendering
    return problem


@pytest.mark.parametrize(("text", "named"), [
    ("{{ ''.__class__ }}", "'__class__'"),
    ("{{ custom._secret }}", "'_secret'"),
    ("{{ custom['__class__'] }}", "'__class__'"),
    ("{{ 'x' * 50000000 }}", "'*'"),
    ("{{ 9**9**9 }}", "'**'"),
    ("{{ (first_name ~ first_name) * 100000000 }}", "'*'"),
    ("{{ '%s' % first_name }}", "'%'"),
    ("{{ 1 + 2 }}", "'+'"),
    ("{% for i in range(1000000000) %}x{% endfor %}", "loop"),
    ("{% for a in custom %}{% for b in custom %}x{% endfor %}{% endfor %}", "loop"),
    ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "macro"),
    ("{% set x = 'ab' %}{% for i in [1, 2, 3] %}{% set x = x ~ x %}{% endfor %}{{ x }}", "{% set %}"),
    ("{% set x %}text{% endset %}", "{% set %}"),
    ("{{ first_name | center(999999999) }}", "'center'"),
    ("{{ first_name | indent(999999999) }}", "'indent'"),
    ("{{ first_name | wordwrap(999999999) }}", "'wordwrap'"),
    ("{{ first_name | truncate(999999999) }}", "'truncate'"),
    ("{{ first_name | default(first_name) }}", "a constant"),
    ("{{ first_name | default(x='y') }}", "positional"),
    ("{{ first_name | attr('__class__') }}", "'attr'"),
    ("{{ custom | list }}", "'list'"),
    ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
    ("{{ lipsum(1000000) }}", "call"),
    ("{{ range(1000000000) }}", "call"),
    ("{{ first_name.upper() }}", "call"),
    ("{{ custom.update({'plan': 'free'}) }}", "call"),
    ("{{ first_name[0:3] }}", "lookup"),
    ("{{ first_name.title }}", "on anything but custom"),
    ("{{ custom.address.city }}", "on anything but custom"),
    ("{{ custom[first_name] }}", "lookup"),
    ("{{ custom.seats > 10 }}", "'gt'"),
    ("{{ 'a' in first_name }}", "'in'"),
    ("{{ {'a': 1} }}", "dict"),
    ("{% include 'other' %}", "{% include %}"),
    ("{% extends 'base' %}", "{% extends %}"),
    ("{% import 'macros' as m %}", "{% import %}"),
    ("{% with a = 1 %}{% endwith %}", "{% with %}"),
    ("{{ first_name is divisibleby(3) }}", "'is divisibleby'"),
    ("{{ " + "not " * 100 + "first_name }}", "nests too deeply"),
    ("{{ " + "(" * 5000 + "first_name" + ")" * 5000 + " }}", "nests too deeply"),
    ("{{ first_name" + " or first_name" * 500 + " }}", "nests too deeply"),
    ("{% if first_name %}" * 40 + "{% endif %}" * 40, "nests too deeply"),
    ("{{ first_name }}" * 1300, f"at most {MAX_TEMPLATE_CHARS}"),
    ("{{ " + "~".join(["1"] * 5000) + " }}", "more than 5000 parts"),
])
def test_unsafe_or_unbounded_templates_are_refused_fast_and_named(text: str, named: str) -> None:
    assert named in fast_refusal(text)


def test_unknown_names_stay_refused() -> None:
    assert fast_refusal("{{ nickname }} {{ cycler }}").startswith("unknown variable(s) cycler, nickname")


@pytest.mark.parametrize(("text", "rendered"), [
    ("Hi {{ first_name or 'there' }}", "Hi Grace"),
    ("{% if company %}at {{ company }}{% else %}hi{% endif %}", "at Navy"),
    ("{% if custom.plan == 'pro' %}P{% elif custom.plan in ['enterprise', 'team'] %}E{% else %}O{% endif %}", "E"),
    ("{{ 'big' if custom.seats != 1 else 'one' }}", "big"),
    ("{{ first_name ~ ' / ' ~ custom['plan'] }}", "Grace / enterprise"),
    ("{{ company | upper }} {{ 'X' | lower }} {{ 'ab cd' | title }} {{ 'ab' | capitalize }} [{{ ' t ' | trim }}]",
     "NAVY x Ab Cd Ab [t]"),
    ("{{ custom.seats }} {{ custom.tags }}", "40 ['a', 'b']"),
    ("{{ custom.items }}", "the items field"),  # the field, never the dict's method
    ("{{ custom.plan is defined }} {{ custom.nope is defined }} {{ custom.nope is undefined }}", "True False True"),
    ("{{ -1 }} {{ true }}", "-1 True"),
])
def test_allowed_constructs_render(text: str, rendered: str) -> None:
    assert template_problem(text) is None
    assert render(text, template_context(LEAD)) == rendered


def test_custom_fields_render_empty_or_their_default_when_absent() -> None:
    without = template_context({"email": "x@example.com"})
    assert render("[{{ custom.plan }}]", without) == "[]"
    assert render("{{ custom.plan | default('your plan') }}", without) == "your plan"
    assert render("{{ custom.plan | d('your plan') }}", without) == "your plan"
    assert render("{% if custom.plan %}yes{% else %}no{% endif %}", without) == "no"
    assert render("{{ custom.plan | upper | trim | e }}.", without) == "."
    # a field set to null is as absent as a missing one, never the text "None"
    with_null = template_context(LEAD)
    assert render("[{{ custom.note }}] {{ custom.note | upper }}|{{ custom.note | default('n/a') }}",
                  with_null) == "[] |n/a"


# What passes the check: every construct the allowlist has, each on a custom field.
ALLOWED = " ## ".join([
    "{{ custom.v }}", "{{ custom.v | default('d') }}", "{{ custom.v | default('d', true) }}", "{{ custom.v | upper }}",
    "{{ custom.v | lower | title | capitalize | trim | e }}", "{{ custom.v ~ 'x' }}",
    "{% if custom.v %}t{% elif not custom.v %}f{% endif %}", "{{ custom.v == 3 }}", "{{ custom.v != 'a' }}",
    "{{ custom.v in [1, 'a', none] }}", "{{ custom.v not in ['a'] }}", "{{ custom.v is string }}",
    "{{ custom.v is number }}", "{{ custom.v is none }}", "{{ 'y' if custom.v else 'n' }}",
    "{{ custom.v and custom.v or 'e' }}", "{{ custom['v'] }}", "{{ custom }}",
])


@pytest.mark.parametrize("value", [
    "text", "", "x" * 2000, 0, -7, 3.5, 1e300, True, False, None, [], [1, "a", None], "{{ first_name }}", "ünï",
])
def test_what_passes_the_check_renders_for_any_custom_value(value) -> None:
    assert template_problem(ALLOWED) is None
    for custom in ({"v": value}, {}, {"other": value}):
        out = render(ALLOWED, template_context({"email": "x@example.com", "custom": custom}))
        assert out.count(" ## ") == ALLOWED.count(" ## ")
    # data is never rendered as a template
    assert render("{{ custom.v }}", template_context({"custom": {"v": "{{ first_name }}"}, "first_name": "G"})) \
        == "{{ first_name }}"


def test_a_rendering_longer_than_the_cap_is_an_error() -> None:
    context = template_context({"custom": {"note": "n" * 2000}})
    text = "{{ custom.note }}" * (MAX_RENDERED_CHARS // 2000)
    assert len(render(text, context)) == MAX_RENDERED_CHARS  # exactly the cap is fine
    with pytest.raises(TemplateError, match=f"longer than {MAX_RENDERED_CHARS}"):
        render(text + "!", context)
    with pytest.raises(TemplateError, match="longer than 10"):
        render("{{ first_name }}", template_context({"first_name": "G" * 11}), limit=10)


def test_the_largest_allowed_template_compiles_and_renders_within_a_second() -> None:
    text = ("{% if custom.a == 'x' %}y{% else %}{{ custom.b | default('z') | upper }}{% endif %}" * 250)
    text = text[: text.rindex("{% if", 0, MAX_TEMPLATE_CHARS)]
    context = template_context({"custom": {"a": "q", "b": "w" * 300}})
    started = time.thread_time()
    assert template_problem(text + "x") is None
    out = render(text + "x", context)
    assert time.thread_time() - started < 1
    assert out.endswith("x") and len(out) > 50_000


def shipped_texts():
    for path in sorted(CADENCE_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        for step in data["steps"]:
            for holder in [step, *step.get("variants", [])]:
                for key in CONTENT_FIELDS[step["channel"]]:
                    if holder.get(key) is not None:
                        yield pytest.param(holder[key], id=f"{path.stem}-{step['id']}-{holder.get('id', '')}-{key}")


def column_max(name: str) -> int:
    return Lead.__table__.c[name].type.length


LEADS = {
    "sample": SAMPLE_LEAD,
    "email only": {"email": "x@example.com"},
    "every field at its longest": {
        **{f: "W" * column_max(f) for f in ("first_name", "last_name", "company", "title", "owner", "source")},
        "email": "e" * 300 + "@example.com", "custom": {f"k{i}": "v" * 300 for i in range(50)},
    },
}


@pytest.mark.parametrize("text", list(shipped_texts()))
def test_every_shipped_text_renders_for_any_lead(text: str) -> None:
    assert template_problem(text) is None
    for lead in LEADS.values():
        out = render(text, template_context(lead, sender_name="Sam", unsubscribe_url="https://x/u/1"))
        assert out.strip() and "None" not in out and len(out) <= MAX_RENDERED_CHARS
