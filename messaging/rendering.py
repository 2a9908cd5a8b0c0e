"""Cadence content as Jinja2 text, rendered in a sandbox: templates come from sales ops, not code."""
from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Names a step's text may use. `custom` holds the lead's extra fields.
TEMPLATE_VARIABLES = frozenset({
    "first_name", "last_name", "full_name", "email", "company", "title", "phone", "country",
    "timezone", "source", "owner", "custom", "sender_name", "unsubscribe_url",
})

SAMPLE_LEAD: dict[str, Any] = {
    "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
    "company": "Analytical Engines", "title": "Head of Operations", "phone": "+441234567890",
    "country": "GB", "timezone": "Europe/London", "source": "form_fill", "owner": None,
    "custom": {},
}

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def template_problem(text: str) -> str | None:
    """Why `text` cannot be used as step content, or None when it can."""
    try:
        unknown = meta.find_undeclared_variables(_env.parse(text)) - TEMPLATE_VARIABLES
    except TemplateSyntaxError as exc:
        return f"template does not compile: {exc.message} (line {exc.lineno})"
    if unknown:
        return f"unknown variable(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(TEMPLATE_VARIABLES))}"
    return None


def template_context(lead: dict[str, Any], **extra: Any) -> dict[str, Any]:
    context = {name: lead.get(name) or "" for name in TEMPLATE_VARIABLES}
    context["custom"] = lead.get("custom") or {}
    context["full_name"] = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    context.update(extra)
    return context


def render(text: str | None, context: dict[str, Any]) -> str | None:
    if text is None:
        return None
    return _env.from_string(text).render(context)
