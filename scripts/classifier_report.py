"""Measure the reply classifier on the reply corpus: accuracy per intent, overall, and the misses.

    python -m scripts.classifier_report [CORPUS.yaml]

The numbers in docs/classifier.md come from this script; tests/test_classifier.py asserts the thresholds.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from domain.events import INTENTS
from messaging.classifier import Classification, classify

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "replies.yaml"


@dataclass(frozen=True)
class Reply:
    text: str
    intent: str
    received: date
    return_date: date | None = None


@dataclass
class Result:
    total: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INTENTS, 0))
    correct: dict[str, int] = field(default_factory=lambda: dict.fromkeys(INTENTS, 0))
    dates_total: int = 0
    dates_correct: int = 0
    misses: list[tuple[Reply, Classification]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return sum(self.correct.values()) / max(1, sum(self.total.values()))

    def intent_accuracy(self, intent: str) -> float:
        return self.correct[intent] / max(1, self.total[intent])


def load_corpus(path: Path = CORPUS) -> list[Reply]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Reply(r["text"], r["intent"], r.get("received", data["received"]), r.get("return_date"))
            for r in data["replies"]]


def evaluate(replies: list[Reply]) -> Result:
    result = Result()
    for reply in replies:
        got = classify(reply.text, today=reply.received)
        result.total[reply.intent] += 1
        if got.intent == reply.intent:
            result.correct[reply.intent] += 1
        else:
            result.misses.append((reply, got))
        if reply.intent == "out_of_office" and got.intent == "out_of_office":
            result.dates_total += 1
            result.dates_correct += got.return_date == reply.return_date
    return result


def report(result: Result) -> str:
    lines = ["| intent | replies | correct | accuracy |", "|---|---:|---:|---:|"]
    for intent in INTENTS:
        lines.append(f"| {intent} | {result.total[intent]} | {result.correct[intent]} "
                     f"| {result.intent_accuracy(intent):.1%} |")
    lines.append(f"| **overall** | {sum(result.total.values())} | {sum(result.correct.values())} "
                 f"| {result.accuracy:.1%} |")
    lines.append(f"\nReturn dates of the out-of-office replies classified as such: "
                 f"{result.dates_correct}/{result.dates_total} right (a stated date, or none where none is stated).")
    for reply, got in result.misses:
        lines.append(f"\nmiss: expected {reply.intent}, got {got.intent} ({got.rule}: {got.matched!r}): "
                     f"{reply.text.strip()[:100]!r}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(evaluate(load_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS))))
