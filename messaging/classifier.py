"""Reply intent from text: deterministic, explainable rules (the rule that matched is returned).

Only the new part of a reply is read: quoted history repeats our own email, which says "interested",
"call" and "No more emails from us". Rules are tried in table order and the first match wins; the
order is the policy:
- unsubscribe first: a request to stop must never be read as anything else (a legal duty);
- out-of-office next: auto-replies mention "interested", "schedule a call", "forwarded";
- negative before positive: "Yes, we already have a tool for that" is a no;
- the neutral rules only explain a neutral verdict; a person reads those replies anyway.
For an out-of-office reply the return date is read from the text, relative to the day it arrived.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


def _words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")\b"


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = r"(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_WHEN = rf"(?:{_DAY}|{_MONTH}|\d+|tomorrow|next)"
_US = r"(?:me|us|my \w+|our \w+)"
_MAIL = r"(?:e-?mails?|messages?|communications?|mail(?:ings?)?|contact|outreach)"
_CONTACT = (r"(?:e-?mail(?:s|ing)?|contact(?:ed|ing)?|messag(?:es|ing)|mail(?:ings?)?|communicat\w*|correspondence"
            r"|outreach|spam\w*|reach(?:ing)? out|writing|sending)")
_LIST = r"(?:lists?|database|crm|system|records|e-?mails?|mailings?|communications?)"
_NOW = r"(?<!was )(?<!were )(?<!been )"  # "I was on vacation, what is this about?" is a person writing
_NOT = r"(?<!not )(?<!n't )(?<!no )(?<!never )"  # "I don't want a demo" shows no interest

# (intent, rule name, pattern); the first rule that matches decides.
_TABLE: list[tuple[str, str, str]] = [
    ("unsubscribe", "asks to be removed", _words(
        r"unsub\w*", rf"remove {_US}", rf"take {_US}(?: \w+)? off", r"get (?:me |us )?off",
        r"opt(?:ing)?[ -]?(?:me |us )?out",
        r"(?:delete|erase) my (?:personal )?(?:data|details|information|e-?mail|address|contact|name|number)",
        rf"(?:remove|delete|take|drop)\b[^.!?\n]{{0,40}}\b(?:from|off) (?:your|this|the|all|any)\b"
        rf"[^.!?\n]{{0,25}}\b{_LIST}",
        r"not be on (?:this|your) \w* ?list", r"right to be forgotten", r"do not contact")),
    # Leans to unsubscribe on purpose: a stop word and a contact word in one sentence ("I don't want any
    # more of your emails") is enough, as a missed request costs more than a misread lead.
    ("unsubscribe", "asks us to stop", _words(
        r"(?:(?<!let's )stop\w*|cease|quit|enough|discontinue|refrain|(?:do not|don't|no longer) (?:want|wish)"
        rf"|no (?:more|further)|lose my)\b[^.!?\n]{{0,40}}?\b{_CONTACT}"
        r"(?! from us)",  # our own footer "No more emails from us", should a mail client leave it unquoted
        r"(?:e-?mails|messages)\b[^.!?\n]{0,20}\bstop",
        r"(?:do not|don't|never|quit|cease) (?:ever )?(?:e-?mail|contact|messag|writ|spamm?)\w*",
        r"(?:do not|don't) (?:send (?:me|us) (?:any ?more|these|further)|(?:reach out|follow up)(?: \w+ \w+)? again)",
        r"(?:do not|don't) follow up(?! (?:until|before|till|after|in|next))", r"please,? stop(?! by)",
        rf"enough (?:with )?(?:the |your |these )?{_MAIL}", rf"not interested in (?:receiv|get)\w* (?:\w+ )?{_MAIL}",
        r"(?:be|get|been) (?:removed|taken off|unsubscribed)", r"no more,? (?:please|thanks|thank you)",
        r"(?:don't|do not) want to hear from (?:you|your)", r"leave me alone", r"cease and desist", r"harass\w*",
        r"(?:this is|reporting (?:this|it|you) as|marked as) spam", r"report you")),
    ("unsubscribe", "a bare stop or remove",
        r"(?:^|[.!?])\W*(?:please )?(?:stop|remove|unsubscribe|opt[ -]?out)(?: me| us| now| please)?"
        r"(?=\s*(?:[.!?]|$))"),
    ("out_of_office", "auto-reply", _words(
        rf"{_NOW}out[ -]of[ -](?:the )?office", r"ooo", r"oof", r"auto(?:matic)?[ -]?(?:reply|response)",
        r"office is closed", r"closed for the holidays?", r"(?:responses?|replies|reply) (?:will|may) be delayed")),
    ("out_of_office", "away", _words(
        r"(?:currently|presently) (?:away|out|travell?ing|off|on leave)", r"away from (?:the office|my desk|e-?mail)",
        r"(?:i'm|i am|i will be|i'll be) (?:out|away|off) (?:until|till|through|from|on (?:business|leave|pto))",
        rf"{_NOW}on (?:annual |parental |maternity |paternity |sick |medical |study )?leave",
        rf"{_NOW}on (?:vacation|holidays?|sabbatical|pto|a business trip)", r"(?:upon|on|after) my return",
        r"(?:limited|no|intermittent) access to (?:e-?mail|my e-?mail)", r"limited (?:connectivity|e-?mail access)",
        r"back in the office", rf"(?:be|i'm|i am|and) back (?:at (?:work|my desk)|on (?:the )?{_WHEN}|{_WHEN})",
        rf"(?:will|i'll|shall) return (?:to (?:the office|work) )?(?:on )?{_WHEN}")),
    ("negative", "not interested", _words(
        r"not (?:really |at all )?interested", r"no (?:longer )?interest(?:ed)?", r"no,? thanks?(?: you)?",
        r"(?:not sure|doubt|don't think)\b[^.?!\n]{0,20}\binterested", r"(?:is|it's) a no",
        r"(?:'ll|will|going to|gonna|have to|must) pass\b(?!\s+(?:\w+\s+)?(?:along|on to|to))", r"pass on this",
        r"(?:not|\w+n't)\b[^.!?\n]{0,25}\b(?:fit|match) for",
        r"(?:not|\w+n't) (?:a |the )?(?:good |right )?(?:fit|match)",
        r"(?:not|isn't|is not) (?:(?:right )?for (?:us|me)|relevant|something (?:we|i))", r"different direction",
        r"(?:don't|do not|doesn't|does not) (?:need|apply|see (?:a |the )?(?:need|fit|value))", r"no (?:need|use) for",
        r"no need", r"not (?:looking|in the market)", r"not (?:buying|purchasing|spending|investing)", r"decline",
        r"decided (?:not|against)", r"not (?:moving|going) forward", r"(?:won't|will not|not) (?:be )?switch\w*",
        r"(?:we're|we are) (?:good|fine|covered)(?: for now| here| on that)?\b(?! to| with)", r"so no(?=\W*$)")
        + r"|^\W*(?:no|nope|nah|pass|no thanks?(?: you)?)\W*$"),  # the whole line
    ("negative", "already has a solution", _words(
        r"(?:went|going|gone|chose|selected|signed) (?:with )?(?:another|a different|a competitor|someone else)",
        r"(?:don't|do not|no) (?:want |need )?(?:to add )?(?:another|more|new|any more) (?:tools?|vendors?|software)",
        r"decided to go with", r"renewed (?:with|our|the|for)", r"sticking with",
        r"happy with (?:our|what we|the current)", r"already (?:have|use|using|work with|working with|signed|got|has)",
        r"(?:we're|we are|i'm) (?:all )?set\b(?! to| up| for)",
        r"(?:solution|tool|vendor|provider|system|something) in place", r"(?:already in place|in place already)",
        r"built (?:\w+ )?in-house", r"signed an? (?:[\w-]+ ){0,2}contract", r"locked in(?:to)?")),
    ("negative", "no budget or bad timing", _words(
        r"no (?:budget|bandwidth|capacity|appetite)", r"(?:can't|cannot) (?:justify|afford)",
        r"(?:don't|do not|doesn't) have (?:the |any )?(?:budget|resources|bandwidth|capacity|headcount)",
        r"budget (?:is|was|has been) (?:frozen|cut|spent|allocated|gone|tight|used up)",
        r"(?:hiring|spending|budget) freeze", r"(?:not|\w+n't)\b[^.!?\n]{0,30}\bpriority", r"bad timing",
        r"not (?:a|the) (?:right|good) time", r"timing (?:isn't|is not) (?:great|good|right)",
        r"not (?:right )?now", r"not at (?:this|the) (?:time|moment)", r"not this (?:year|quarter)",
        r"too (?:expensive|pricey|busy|small|early)",
        r"(?:maybe|(?:check|circle) back|reach out|try (?:us )?again|follow up)(?: \w+)? (?:next|in) "
        r"(?:year|quarter|q[1-4]|\w+ months)")),
    ("positive", "proposes or asks for a meeting", _words(
        r"(?:(?:can|could) (?:you|we|i)|i can) (?:do|chat|talk|meet|speak|set up|book|hop|jump)",
        rf"(?:how|what) about {_DAY}", rf"(?:does|would|could|how's|how is) (?:next )?{_DAY}",
        rf"{_DAY}(?: (?:morning|afternoon))? (?:at \d+|works|would work|is (?:open|free|good))",
        rf"(?:talk|speak|chat|see you) (?:on )?{_DAY}",
        r"(?:welcome|open to|up for) an? (?:conversation|call|chat|meeting)",
        r"(?:send|email|share) (?:me |us )?(?:over )?(?:an? |some |a few |your )?(?:[\w-]+ )?"
        r"(?:times|slots|availability|invite|invitation)",
        r"(?:book(?:ed)?|schedul(?:e|ed)|set up|arrang(?:e|ed)|find|grab(?:bed)?) (?:an? |some |any )?"
        r"(?:[\w-]+ ){0,2}?"
        r"(?:time|call|meeting|demo|chat|slot)",
        r"(?:book|set|schedule) something", r"let's (?:talk|chat|meet|connect|do it|find|set|schedule|book)",
        r"(?:hop|jump) on a call", r"(?:happy|glad|keen|open) to (?:a call|talk|chat|meet|connect|take a look)",
        r"works for me", r"(?:i'm|i am|we're|we are) (?:free|available|around)", r"calendly", r"your availability",
        r"(?:are|would) you (?:be )?(?:free|available)", r"when you're (?:free|available)", r"when (?:works|suits)",
        r"what (?:time|day)s? (?:work|suit)", rf"{_NOT}(?:call|ring) me", r"give me a (?:call|ring)",
        r"have (?:\d+|a few|some|fifteen|thirty|half an hour)(?: \w+)? (?:min\w*|time)",
        rf"{_NOT}(?:get|see|do|book|schedule|set up|like|want|request|love) (?:a |the )?demo")),
    ("positive", "shows interest", _words(
        rf"{_NOT}interested(?! to (?:know|hear|understand) (?:how|why|where|who|what))",
        r"(?:i'm|we're|i am|we are) (?:very |really )?(?:keen|intrigued)",
        r"(?:sounds|looks) (?:good|great|interesting)",
        rf"{_NOT}(?:love|like|keen|want|eager|happy|glad) to (?:learn|hear|know|see|try|explore)",
        r"(?:good|great|perfect) timing", r"(?:count|sign) (?:me|us) (?:in|up)", r"next steps")
        + r"|^(?:yes|yeah|yep|sure|absolutely|definitely)\b"),  # at the start of a line
    ("neutral", "referral or change of contact", _words(
        r"forward(?:ing|ed)?", r"cc'?(?:ing|ed)", r"loop(?:ing)? in", r"adding", r"not the right (?:person|contact)",
        r"left the company", r"no longer (?:with|at|works)")),
    ("neutral", "asks a question", r"\?"),
]
RULES = [(intent, rule, re.compile(pattern, re.I | re.M)) for intent, rule, pattern in _TABLE]


@dataclass(frozen=True)
class Classification:
    intent: str
    rule: str  # which rule decided, for the event log and for people tuning the table
    matched: str = ""  # the text the rule matched
    return_date: date | None = None  # out_of_office only, when the text states one


_ATTRIBUTION = re.compile(r"^\s*on\b.{0,250}\bwrote:\s*$", re.I)  # Gmail, Apple Mail, Thunderbird
_CUT = re.compile(r"^\s*(?:-{2,} ?(?:original|forwarded) message ?-{2,}|begin forwarded message:|_{10,}|--\s*)$", re.I)
_HEADER = re.compile(r"^\s*\*?from:", re.I)  # Outlook puts the original below a From:/Sent: block, unquoted
_HEADER_NEXT = re.compile(r"^\s*\*?(?:sent|date|to|subject):", re.I)


def strip_quoted(text: str) -> str:
    """Only the new part of a reply: no '>' lines, nothing below a quote header or signature marker.

    A reply written below a '>' quote (bottom-posting) is kept."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        wrapped = (not _ATTRIBUTION.match(line) and i > 0 and lines[i - 1].lstrip()[:3].lower() == "on "
                   and _ATTRIBUTION.match(f"{lines[i - 1]} {line}"))  # Gmail wraps a long "On ... wrote:"
        if wrapped or _ATTRIBUTION.match(line):
            if wrapped and kept:
                kept.pop()
            rest = [x for x in lines[i + 1:] if x.strip()]
            if rest and rest[0].lstrip().startswith(">"):
                continue
            break
        if _CUT.match(line) or (_HEADER.match(line) and any(_HEADER_NEXT.match(x) for x in lines[i + 1:i + 4])):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def classify(text: str, today: date | None = None) -> Classification:
    """The intent of a reply; `today` (the day it was received) anchors dates such as "back on Monday"."""
    body = strip_quoted(text).replace("\u2019", "'").replace("\u00a0", " ")
    for intent, rule, pattern in RULES:
        found = pattern.search(body)
        if found:
            back = find_return_date(body, today or date.today()) if intent == "out_of_office" else None
            return Classification(intent, rule, found.group(0), back)
    return Classification("neutral", "no rule matched: a person should read it")


# Return dates. Absolute dates win over "tomorrow"/weekday names; of several, the one after a cue such
# as "back"/"until" wins, else the latest (the end of the absence).
_ORD = r"(?:st|nd|rd|th)?"
_DATES = [re.compile(p, re.I) for p in (
    r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b",
    rf"\b(?P<d>\d{{1,2}}){_ORD}(?: of)? (?P<mon>{_MONTH})(?:,? (?P<y>\d{{4}}))?\b",  # "14 December", "9th of March"
    # "March 16", "July 6th, 2026", "December 3-14" (the end of a range)
    rf"\b(?P<mon>{_MONTH}) (?:\d{{1,2}}{_ORD} ?(?:-|–|to|through) ?)?(?P<d>\d{{1,2}}){_ORD}(?:,? (?P<y>\d{{4}}))?\b",
    r"\b(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?\b(?![/.-]\d)",  # 12/03/2026, 2/26
    r"\bthe (?P<d>\d{1,2})(?:st|nd|rd|th)\b",  # "back on the 14th"
)]
_RELATIVE = re.compile(rf"\b(?:tomorrow|next week|{'|'.join(_WEEKDAYS)})\b", re.I)
_CUE = re.compile(r"\b(?:back|return\w*|until|till|through|reopen\w*|resum\w*)\b\W+(?:\w+\W+){0,4}$", re.I)


def find_return_date(text: str, today: date) -> date | None:
    """The return date an out-of-office text states, or None; years and weekdays are resolved after `today`."""
    found: list[tuple[int, date]] = []
    taken: list[range] = []
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if any(m.start() in span or m.end() - 1 in span for span in taken):
                continue  # "14 December" must not also be read as "December 14"-style fragments
            day = _resolve(m.groupdict(), today)
            if day:
                found.append((m.start(), day))
                taken.append(range(m.start(), m.end()))
    if not found:
        found = [(m.start(), _relative(m.group(0).lower(), today)) for m in _RELATIVE.finditer(text)]
    cued = [day for start, day in sorted(found) if _CUE.search(text[max(0, start - 40):start])]
    return cued[0] if cued else max((day for _, day in found), default=None)


def _resolve(g: dict[str, str | None], today: date) -> date | None:
    year = int(g["y"]) + (2000 if len(g["y"]) == 2 else 0) if g.get("y") else None
    if g.get("a"):  # numeric: day-first or month-first; when both are valid take the sooner one to come
        if not year and g["sep"] != "/":
            return None  # "9.30" is a time
        a, b = int(g["a"]), int(g["b"])
        options = [d for d in (_date(year, b, a, today), _date(year, a, b, today)) if d]
        upcoming = [d for d in options if d >= today]
        return min(upcoming) if upcoming else max(options, default=None)
    month = int(g["m"]) if g.get("m") else _MONTHS.index(g["mon"][:3].lower()) + 1 if g.get("mon") else None
    if month is None:  # "the 14th": this month's, or the next month's that has such a day
        for k in range(3):
            years, month0 = divmod(today.month - 1 + k, 12)
            d = _date(today.year + years, month0 + 1, int(g["d"]), today)
            if d and d >= today:
                return d
        return None
    return _date(year, month, int(g["d"]), today)


def _date(year: int | None, month: int, day: int, today: date) -> date | None:
    """That day; without a year, its next occurrence on or after `today`."""
    for y in [year] if year else range(today.year, today.year + 5):
        try:
            d = date(y, month, day)
        except ValueError:
            continue
        if year or d >= today:
            return d
    return None


def _relative(word: str, today: date) -> date:
    if word == "tomorrow":
        return today + timedelta(days=1)
    if word == "next week":
        return today + timedelta(days=7 - today.weekday())
    return today + timedelta(days=(_WEEKDAYS.index(word) - today.weekday() - 1) % 7 + 1)
