import pytest

from messaging import tokens
from messaging.rendering import (
    SAMPLE_LEAD, TEMPLATE_VARIABLES, TemplateError, render, template_context, template_problem,
)

SECRET = "s3cret"


# --- template_problem -------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Plain text",
        "Hi {{ first_name or 'there' }}, from {{ sender_name }}",
        "{% if company %}about {{ company }}{% endif %} {{ custom.plan }} {{ unsubscribe_url }}",
        "{{ custom.plan | default('your plan') }} {{ custom['seat-count'] }}",
    ],
)
def test_template_problem_good_text(text: str) -> None:
    assert template_problem(text) is None


@pytest.mark.parametrize("text", ["Hi {{ first_name", "{% if company %}open", "{{ }}", "{% endif %}"])
def test_template_problem_syntax_error(text: str) -> None:
    problem = template_problem(text)
    assert problem is not None
    assert problem.startswith("template does not compile: ")
    assert "(line 1)" in problem


def test_template_problem_syntax_error_reports_line() -> None:
    assert "(line 3)" in template_problem("one\ntwo\n{{ three")


def test_template_problem_unknown_variable_names_it() -> None:
    problem = template_problem("Hi {{ nickname }} at {{ company }} {{ zzz_field }}")
    assert problem.startswith("unknown variable(s) nickname, zzz_field; known: ")
    assert "first_name" in problem


def test_every_template_variable_is_accepted() -> None:
    assert template_problem(" ".join("{{ %s }}" % v for v in sorted(TEMPLATE_VARIABLES))) is None


# --- render / template_context ----------------------------------------------

LEAD = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "email": "grace@example.com",
    "company": "Navy",
    "title": None,
    "custom": {"plan": "enterprise", "seats": 40},
}


def test_template_context() -> None:
    ctx = template_context(LEAD, sender_name="Sam", unsubscribe_url="https://x/u/1")
    assert set(ctx) == TEMPLATE_VARIABLES
    assert ctx["full_name"] == "Grace Hopper"
    assert ctx["first_name"] == "Grace"
    assert ctx["title"] == ""  # None becomes empty text
    assert ctx["phone"] == ""  # missing becomes empty text
    assert ctx["custom"] == {"plan": "enterprise", "seats": 40}
    assert ctx["sender_name"] == "Sam" and ctx["unsubscribe_url"] == "https://x/u/1"


def test_full_name_with_one_part_and_none() -> None:
    assert template_context({"first_name": "Ada"})["full_name"] == "Ada"
    assert template_context({"last_name": "Lovelace"})["full_name"] == "Lovelace"
    assert template_context({})["full_name"] == ""
    assert template_context({})["custom"] == {}


def test_render_with_lead_context() -> None:
    text = (
        "Hi {{ first_name or 'there' }} ({{ full_name }}), {{ company }} is on {{ custom.plan }} "
        "with {{ custom.seats }} seats.{% if title %} T={{ title }}{% endif %} -- {{ sender_name }}"
    )
    ctx = template_context(LEAD, sender_name="Sam")
    assert render(text, ctx) == "Hi Grace (Grace Hopper), Navy is on enterprise with 40 seats. -- Sam"


def test_render_falls_back_for_empty_fields() -> None:
    ctx = template_context({"email": "x@example.com"})
    assert render("Hi {{ first_name or 'there' }}, {{ full_name or email }}", ctx) == "Hi there, x@example.com"


def test_render_none_is_none() -> None:
    assert render(None, template_context(LEAD)) is None


def test_render_does_not_escape_html() -> None:
    assert render("{{ company }}", template_context({"company": "A & <B>"})) == "A & <B>"


def test_render_missing_custom_field_is_empty_or_its_default() -> None:
    ctx = template_context(LEAD)
    assert render("[{{ custom.missing }}]", ctx) == "[]"
    assert render("{{ custom.missing | default('your plan') }}", ctx) == "your plan"
    assert render("{{ custom.plan | default('your plan') }}", ctx) == "enterprise"


def test_render_sample_lead() -> None:
    assert render("{{ full_name }} <{{ email }}>", template_context(SAMPLE_LEAD)) == "Ada Lovelace <ada@example.com>"


# --- sandbox ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ first_name.__class__ }}",
        "{{ custom.__class__.__init__.__globals__ }}",
        "{{ first_name.__init__.__globals__ }}",
    ],
)
def test_dunder_access_is_refused_when_saved_and_when_rendered(text: str) -> None:
    # These use no unknown variable: the construct check refuses them before the sandbox is needed.
    assert "is not allowed" in template_problem(text)
    with pytest.raises(TemplateError, match="is not allowed"):
        render(text, template_context(LEAD))


def test_mutation_is_refused() -> None:
    ctx = template_context(LEAD)
    assert "call" in template_problem("{{ custom.update({'plan': 'free'}) }}")
    with pytest.raises(TemplateError):
        render("{{ custom.update({'plan': 'free'}) }}", ctx)
    assert ctx["custom"]["plan"] == "enterprise"


# --- tokens -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["lead-1", "", "0f1e2d3c-uuid-like", "with.dot:and colon", "ünïcødé"])
def test_sign_verify_round_trip(value: str) -> None:
    token = tokens.sign("unsubscribe", value, SECRET)
    assert tokens.verify("unsubscribe", token, SECRET) == value


def test_token_is_url_safe_and_deterministic() -> None:
    token = tokens.sign("reply", "lead-42", SECRET)
    assert token == tokens.sign("reply", "lead-42", SECRET)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert "=" not in token and token.count(".") == 1


def test_altered_token_is_rejected() -> None:
    token = tokens.sign("unsubscribe", "lead-1", SECRET)
    encoded, mac = token.split(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    assert tokens.verify("unsubscribe", f"{encoded}.{flipped}", SECRET) is None
    # Same MAC, a different value.
    other = tokens.sign("unsubscribe", "lead-2", SECRET).split(".")[0]
    assert tokens.verify("unsubscribe", f"{other}.{mac}", SECRET) is None
    assert tokens.verify("unsubscribe", token + "x", SECRET) is None
    assert tokens.verify("unsubscribe", token[:-1], SECRET) is None


def test_token_for_another_purpose_is_rejected() -> None:
    token = tokens.sign("reply", "lead-1", SECRET)
    assert tokens.verify("unsubscribe", token, SECRET) is None
    assert tokens.verify("reply", token, SECRET) == "lead-1"


def test_token_with_another_secret_is_rejected() -> None:
    token = tokens.sign("unsubscribe", "lead-1", "other-secret")
    assert tokens.verify("unsubscribe", token, SECRET) is None


@pytest.mark.parametrize("garbage", ["", "garbage", ".", "a.b", "!!!.???", "bGVhZC0x", "é.x", "/xff.abc"])
def test_garbage_token_is_rejected(garbage: str) -> None:
    assert tokens.verify("unsubscribe", garbage, SECRET) is None


def test_non_ascii_mac_is_rejected_not_raised() -> None:
    encoded = tokens.sign("unsubscribe", "lead-1", SECRET).split(".")[0]
    assert tokens.verify("unsubscribe", f"{encoded}.é", SECRET) is None
