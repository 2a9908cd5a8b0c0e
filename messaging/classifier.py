"""Reply intent from text: deterministic, explainable rules (which rule matched is returned).

Order matters: an unsubscribe request must never be read as anything else, and an
out-of-office note often contains words that would otherwise look positive.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

RULES: list[tuple[str, str, re.Pattern[str]]] = [
    ("unsubscribe", "unsubscribe request", re.compile(
        r"\b(unsubscribe|remove me|take me off|opt[ -]?out|stop (emailing|contacting|sending)|do not (email|contact)"
        r"|don't (email|contact)|no more emails)\b", re.I)),
    ("out_of_office", "automatic out-of-office", re.compile(
        r"\b(out of (the )?office|on (annual )?leave|on vacation|on holiday|away until|back on|return(ing)? on"
        r"|limited access to (my )?e-?mail|parental leave|automatic reply)\b", re.I)),
    ("negative", "not interested", re.compile(
        r"\b(not interested|no thanks|no, thanks|not a fit|not for us|we('re| are) all set|already (have|use)"
        r"|no need|please stop|not now|no budget|not looking)\b", re.I)),
    ("positive", "interest or a meeting", re.compile(
        r"\b(let's (talk|chat|meet)|book a (call|meeting|time)|schedule|sounds (good|great|interesting)"
        r"|i'?m interested|we('re| are) interested|happy to (talk|chat)|set up a (call|meeting)|send (me )?an invite"
        r"|when are you (free|available)|yes)\b", re.I)),
]


@dataclass(frozen=True)
class Classification:
    intent: str
    rule: str


def strip_quoted(text: str) -> str:
    """Only the new part of a reply: drop quoted lines and everything from 'On ... wrote:'."""
    lines = []
    for line in text.splitlines():
        if re.match(r"^\s*on .+wrote:\s*$", line, re.I) or line.strip().startswith("-----Original Message"):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
    return "\n".join(lines)


def classify(text: str) -> Classification:
    body = strip_quoted(text)
    for intent, rule, pattern in RULES:
        if pattern.search(body):
            return Classification(intent, rule)
    return Classification("neutral", "no rule matched: a person should read it")
