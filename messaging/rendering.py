"""Cadence content as Jinja2 text, rendered in a sandbox: templates come from sales ops, not code.

Design: a template is accepted only if its parsed tree uses a small allowlist of constructs, and
the same check runs when a cadence is saved and before anything is rendered. The sandbox
(`ImmutableSandboxedEnvironment`) stays underneath, but it is not what keeps templates cheap:
Jinja folds constant expressions while compiling, so `{{ 9**9**9 }}` or `{{ 'x' * 50000000 }}`
would hang or fill memory before the sandbox sees a single value. Checking the tree *before*
compiling means nothing outside the allowlist is ever compiled, let alone run.

Allowed:
  - text, `{{ ... }}` output, `{% if %}` / `{% elif %}` / `{% else %}`;
  - the lead's fields (`TEMPLATE_VARIABLES`) and `custom.<name>` / `custom['<name>']` lookups
    (one level, names not starting with `_`);
  - constants (text, numbers, true/false/none), `and`, `or`, `not`, `x if y else z`;
  - comparisons `==`, `!=`, and `in` / `not in` against a literal list such as `['a', 'b']`;
  - `~` concatenation;
  - the filters in `FILTERS`, with constant arguments inside their bounds, and the tests in `TESTS`.
Everything else is refused with a message saying what: loops, `{% set %}`, macros, calls,
arithmetic, ordering comparisons, other attribute or item access, includes and imports.

Why this is enough: without loops, recursion or arithmetic, every output node writes at most
one bounded value (a lead field, a custom value, a constant from the text), so rendering time
and size grow linearly with the template's length, which is itself bounded. The operations left
cannot raise for any lead data either: `==` and `in [...]` compare anything with anything, the
filters turn any scalar into text, and a missing `custom` field is empty. So a template that
passes the check renders for every lead; what it renders is still capped (`MAX_RENDERED_CHARS`)
as a last line of defence against oversized lead data stored before bounds existed.

`custom.*` references are lenient: a lead without the field renders it empty, or with the
declared default (`{{ custom.plan | default('your plan') }}`). Unknown top-level names are
refused at save time, so the context always holds every name a template may use.

Every failure at render time is a `TemplateError`: the text or the lead's data will not change
on a retry, so callers should treat it as permanent.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Callable

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
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

MAX_TEMPLATE_CHARS = 20_000  # the longest text any content field may have
MAX_RENDERED_CHARS = 100_000  # the longest a rendered subject, body or instruction may be
MAX_NODES = 5_000  # parts of a parsed template (compiling 5000 takes about 0.15 s)
MAX_DEPTH = 24  # nesting of those parts (ifs in ifs, `not not ...`, `a or b or c ...`)
MAX_LIST_ITEMS = 50  # items of a literal list after `in`


class TemplateError(Exception):
    """Step content that cannot be rendered: refused by the check, failed, or too long.

    Permanent for the text and lead it was raised for; retrying gives the same error."""


_SCALARS = (str, int, float, bool, type(None))


def _const(*types: type, what: str) -> tuple[str, Callable]:
    """An argument check: a constant of one of `types`."""
    return what, lambda node: isinstance(node, nodes.Const) and isinstance(node.value, types)


_ANY_CONST = _const(*_SCALARS, what="a constant")
_FLAG = _const(bool, what="true or false")
# name -> the positional arguments it may take, each a constant checked as described.
FILTERS: dict[str, tuple[tuple[str, Callable], ...]] = {
    "default": (_ANY_CONST, _FLAG), "d": (_ANY_CONST, _FLAG),
    "upper": (), "lower": (), "title": (), "capitalize": (), "trim": (), "e": (), "escape": (),
}
TESTS = frozenset({"defined", "undefined", "none", "string", "number"})

_ALLOWED_HELP = ("templates may use lead fields, custom.<name>, if/elif/else, and/or/not, ==, !=, "
                 "in [...], ~ and the filters " + ", ".join(sorted(FILTERS)))

# What refused constructs are called in messages (anything else: its Jinja node name).
_REFUSED = {
    nodes.For: "a loop ({% for %})", nodes.Macro: "a macro", nodes.CallBlock: "a call block",
    nodes.Call: "a call", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.With: "{% with %}", nodes.FilterBlock: "a {% filter %} block", nodes.Block: "a block",
    nodes.Extends: "{% extends %}", nodes.Include: "{% include %}", nodes.Import: "{% import %}",
    nodes.FromImport: "{% from ... import %}", nodes.Slice: "a slice", nodes.Dict: "a dict literal",
    nodes.Add: "'+' (use ~ to join text)", nodes.Sub: "'-'", nodes.Mul: "'*'", nodes.Div: "'/'",
    nodes.FloorDiv: "'//'", nodes.Mod: "'%'", nodes.Pow: "'**'",
}


class _ContentEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, where `.` and `[]` only ever read a key of a mapping: `custom.items` is the
    custom field `items`, never the dict's method, and nothing else has attributes at all."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping) and isinstance(argument, str) and not argument.startswith("_"):
            value = obj.get(argument)
            if value is not None:  # a field set to null is as absent as a missing one
                return value
        return self.undefined(obj=obj, name=argument)


# Lenient `Undefined`: a missing custom field is empty and false. Top-level names cannot be
# missing: the check refuses unknown ones and `template_context` provides every known one.
_env = _ContentEnvironment(undefined=Undefined, autoescape=False,
                           finalize=lambda value: "" if value is None else value)


def template_problem(text: str) -> str | None:
    """Why `text` cannot be used as step content, or None when it can."""
    if not isinstance(text, str):
        return "must be text"
    try:
        _compiled(text)
    except TemplateError as exc:
        return str(exc)
    return None


def template_context(lead: dict[str, Any], **extra: Any) -> dict[str, Any]:
    context = {name: lead.get(name) or "" for name in TEMPLATE_VARIABLES}
    context["custom"] = lead.get("custom") or {}
    context["full_name"] = " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    context.update(extra)
    return context


def render(text: str | None, context: dict[str, Any], *, limit: int = MAX_RENDERED_CHARS) -> str | None:
    """`text` rendered for `context` (see `template_context`); raises `TemplateError`."""
    if text is None:
        return None
    template = _compiled(text)
    pieces, size = [], 0
    try:
        for piece in template.generate(context):
            size += len(piece)
            if size > limit:
                raise TemplateError(f"renders longer than {limit} characters for this lead")
            pieces.append(piece)
    except TemplateError:
        raise
    except Exception as exc:  # the sandbox or surprising data: one clear, permanent error
        raise TemplateError(f"could not render: {exc}") from exc
    return "".join(pieces)


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    """The checked, compiled template (cached: every send of a step renders the same text)."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"is {len(text)} characters long; at most {MAX_TEMPLATE_CHARS}")
    try:
        tree = _env.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template does not compile: {exc.message} (line {exc.lineno})") from None
    except RecursionError:
        raise TemplateError(f"template nests too deeply; at most {MAX_DEPTH} levels") from None
    problem = _tree_problem(tree)
    if problem:
        raise TemplateError(problem)
    try:
        return _env.from_string(tree)
    except Exception as exc:  # not expected for an allowed tree; refused rather than trusted
        raise TemplateError(f"template does not compile: {exc}") from None


def _tree_problem(tree: nodes.Template) -> str | None:
    """The first construct outside the allowlist, else unknown names; None when all is allowed."""
    unknown: set[str] = set()
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return f"template is too complex: more than {MAX_NODES} parts"
        if depth > MAX_DEPTH:
            return f"template nests too deeply; at most {MAX_DEPTH} levels"
        if isinstance(node, nodes.Name) and node.ctx == "load":
            if node.name not in TEMPLATE_VARIABLES:
                unknown.add(node.name)
            continue
        children = _allowed_children(node)
        if isinstance(children, str):
            return f"{children}; {_ALLOWED_HELP}"
        stack.extend((child, depth + 1) for child in reversed(children) if child is not None)  # in text order
    if unknown:
        return (f"unknown variable(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(TEMPLATE_VARIABLES))}")
    return None


def _allowed_children(node: nodes.Node) -> list[nodes.Node | None] | str:
    """The parts of `node` still to check, or why it is refused."""
    if isinstance(node, nodes.Template):
        return list(node.body)
    if isinstance(node, nodes.Output):
        return list(node.nodes)
    if isinstance(node, nodes.TemplateData):
        return []
    if isinstance(node, nodes.If):
        return [node.test, *node.body, *node.elif_, *node.else_]
    if isinstance(node, nodes.Const):
        return [] if isinstance(node.value, _SCALARS) else f"the constant {node.value!r} is not allowed"
    if isinstance(node, (nodes.Neg, nodes.Pos)):
        numeric = isinstance(node.node, nodes.Const) and type(node.node.value) in (int, float)
        return [] if numeric else "a sign on anything but a number is not allowed"
    if isinstance(node, (nodes.And, nodes.Or)):
        return [node.left, node.right]
    if isinstance(node, nodes.Not):
        return [node.node]
    if isinstance(node, nodes.CondExpr):
        return [node.test, node.expr1, node.expr2]
    if isinstance(node, nodes.Concat):
        return list(node.nodes)
    if isinstance(node, (nodes.Getattr, nodes.Getitem)):
        return _lookup_problem(node)
    if isinstance(node, nodes.Compare):
        return _compare_children(node)
    if isinstance(node, nodes.Filter):
        return _filter_children(node)
    if isinstance(node, nodes.Test):
        if node.name not in TESTS or node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return f"the test 'is {node.name}' is not allowed (tests without arguments: {', '.join(sorted(TESTS))})"
        return [node.node]
    return (_REFUSED.get(type(node)) or f"a {type(node).__name__} expression") + " is not allowed"


def _lookup_problem(node: nodes.Getattr | nodes.Getitem) -> list | str:
    key = node.attr if isinstance(node, nodes.Getattr) else (
        node.arg.value if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) else None)
    if key is None:
        return "a lookup by anything but a quoted name is not allowed"
    if key.startswith("_"):
        return f"the attribute {key!r} is not allowed (names starting with '_')"
    if not (isinstance(node.node, nodes.Name) and node.node.name == "custom"):
        return f"looking up {key!r} on anything but custom is not allowed"
    return []  # `custom` itself is known; nothing else to check


def _compare_children(node: nodes.Compare) -> list | str:
    out: list[nodes.Node] = [node.expr]
    for operand in node.ops:
        if operand.op in ("eq", "ne"):
            out.append(operand.expr)
        elif operand.op in ("in", "notin"):
            items = operand.expr
            if not (isinstance(items, (nodes.List, nodes.Tuple)) and len(items.items) <= MAX_LIST_ITEMS
                    and all(isinstance(i, nodes.Const) and isinstance(i.value, _SCALARS) for i in items.items)):
                return f"'in' with anything but a list of at most {MAX_LIST_ITEMS} constants is not allowed"
        else:
            return f"the comparison {operand.op!r} is not allowed"
    return out


def _filter_children(node: nodes.Filter) -> list | str:
    spec = FILTERS.get(node.name)
    if spec is None:
        return f"the filter {node.name!r} is not allowed"
    if node.kwargs or node.dyn_args or node.dyn_kwargs or len(node.args) > len(spec):
        return f"the filter {node.name!r} takes at most {len(spec)} positional argument(s)"
    for n, (arg, (what, ok)) in enumerate(zip(node.args, spec), 1):
        if not ok(arg):
            return f"argument {n} of the filter {node.name!r} must be {what}"
    return [node.node]
