"""Lead rank from how the lead was generated (seed 003): the better the source, the more effort."""
from __future__ import annotations

import re

RANKS = ("A", "B", "C", "D")

DEFAULT_SOURCE_RANKS: dict[str, str] = {
    "referral": "A",
    "form_fill": "A",
    "inbound_call": "A",
    "product_signup": "A",
    "target_page_visit": "B",
    "content_download": "B",
    "event": "B",
    "email_click": "C",
    "email_open": "C",
    "target_list": "D",
}

DEFAULT_RANK_CADENCES: dict[str, str] = {"A": "rank-a", "B": "rank-b", "C": "rank-c", "D": "rank-d"}
NURTURE_CADENCE = "nurture"


class UnknownSource(ValueError):
    """A source the ranking table does not know: an error, never a silent default."""


def rank_for(source: str, rules: dict[str, str] | None = None) -> str:
    table = DEFAULT_SOURCE_RANKS if rules is None else rules
    try:
        return table[source]
    except KeyError:
        known = ", ".join(sorted(table))
        raise UnknownSource(f"unknown source {source!r}; known sources: {known}") from None


def is_higher(rank: str, than: str) -> bool:
    """A is higher than B; used to decide whether a new inquiry upgrades a lead."""
    return RANKS.index(rank) < RANKS.index(than)


SOURCE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # 64: the width of leads.source


def ranking_problems(sources: dict[str, str], cadences: dict[str, str]) -> list[tuple[str, str]]:
    """Every structural problem of an edited ranking table as (field, message), e.g. ("sources.webinar", ...).

    Whether each cadence exists and takes leads is the caller's check: it needs the cadence store."""
    problems: list[tuple[str, str]] = []
    if not sources:
        problems.append(("sources", "needs at least one source"))
    for source, rank in sources.items():
        if not SOURCE_NAME.match(source):
            problems.append((f"sources.{source}", "a source is 1-64 letters, digits, '-' or '_'"))
        elif rank not in RANKS:
            problems.append((f"sources.{source}", f"unknown rank {rank!r}; use one of {', '.join(RANKS)}"))
    for rank in RANKS:  # every rank needs a home, or an explicit `rank` on a lead would have no cadence
        if not cadences.get(rank):
            problems.append((f"cadences.{rank}", "is required: every rank needs a default cadence"))
    for rank in cadences:
        if rank not in RANKS:
            problems.append((f"cadences.{rank}", f"is not a rank; ranks are {', '.join(RANKS)}"))
    return problems
