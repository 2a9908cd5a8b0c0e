"""A/B variants: each lead gets one deterministically, and leads spread evenly over them."""
from __future__ import annotations

from collections import Counter

from activities.touches import choose_variant
from domain.cadences import Step, Variant

STEP = Step(id="intro", channel="email", wait="PT0S", subject="Hi", body="Hello",
            variants=[Variant(id=v, subject=f"Subject {v}", body="Hello") for v in ("a", "b", "c")])


def test_the_same_lead_always_gets_the_same_variant():
    assert {choose_variant("lead-42", STEP).id for _ in range(20)} == {choose_variant("lead-42", STEP).id}


def test_variants_are_spread_roughly_evenly_over_many_leads():
    counts = Counter(choose_variant(f"lead-{i}", STEP).id for i in range(6000))
    assert set(counts) == {"a", "b", "c"}
    assert all(abs(n - 2000) < 200 for n in counts.values()), counts


def test_a_step_without_variants_has_none():
    assert choose_variant("lead-1", Step(id="x", channel="email", wait="P1D", subject="s", body="b")) is None
