"""Lead rank from how the lead was generated (seed 003): the better the source, the more effort."""
from __future__ import annotations

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
