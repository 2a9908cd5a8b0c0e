import pytest

from domain.ranks import DEFAULT_SOURCE_RANKS, UnknownSource, is_higher, rank_for, ranking_problems

EXPECTED = {
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


@pytest.mark.parametrize(("source", "rank"), sorted(EXPECTED.items()))
def test_default_source_rank(source: str, rank: str) -> None:
    assert rank_for(source) == rank


def test_default_table_has_exactly_the_documented_sources() -> None:
    assert DEFAULT_SOURCE_RANKS == EXPECTED


def test_unknown_source_raises_naming_the_source() -> None:
    with pytest.raises(UnknownSource, match="'cold_call_list'") as info:
        rank_for("cold_call_list")
    assert isinstance(info.value, ValueError)
    assert "referral" in str(info.value)  # lists the known sources


def test_source_lookup_is_exact() -> None:
    with pytest.raises(UnknownSource):
        rank_for("Referral")
    with pytest.raises(UnknownSource):
        rank_for("")


def test_custom_rules_replace_the_default_table() -> None:
    rules = {"referral": "B", "webinar": "A"}
    assert rank_for("referral", rules) == "B"
    assert rank_for("webinar", rules) == "A"
    with pytest.raises(UnknownSource, match="'form_fill'") as info:
        rank_for("form_fill", rules)
    assert "webinar" in str(info.value)


def test_empty_custom_rules_know_no_source() -> None:
    with pytest.raises(UnknownSource, match="'referral'"):
        rank_for("referral", {})


@pytest.mark.parametrize(
    ("rank", "than", "expected"),
    [
        ("A", "B", True),
        ("A", "D", True),
        ("B", "C", True),
        ("C", "D", True),
        ("B", "A", False),
        ("D", "A", False),
        ("D", "C", False),
        ("A", "A", False),
        ("C", "C", False),
    ],
)
def test_is_higher(rank: str, than: str, expected: bool) -> None:
    assert is_higher(rank, than) is expected


def test_is_higher_rejects_unknown_rank() -> None:
    with pytest.raises(ValueError):
        is_higher("E", "A")


def test_a_valid_ranking_table_has_no_problems() -> None:
    assert ranking_problems({"webinar": "A", **EXPECTED}, {"A": "x", "B": "x", "C": "y", "D": "z"}) == []


def test_ranking_problems_name_each_field() -> None:
    problems = ranking_problems({"webinar": "E", "bad name": "A", "referral": "B"},
                                {"A": "rank-a", "B": "", "C": "rank-c", "E": "rank-e"})
    assert [field for field, _ in problems] == [
        "sources.webinar", "sources.bad name", "cadences.B", "cadences.D", "cadences.E"]
    assert "'E'" in problems[0][1]
    assert ranking_problems({}, dict.fromkeys("ABCD", "x")) == [("sources", "needs at least one source")]
