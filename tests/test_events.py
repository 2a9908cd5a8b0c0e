import pytest

from domain.events import MAX_EXTERNAL_ID, Decision, LeadEvent, bounded_id, decide
from domain.stages import Level, Reason, Stage

EMAIL = frozenset({"email", "manual_email"})
PHONE = frozenset({"call", "sms"})


def ev(type: str, **kw) -> LeadEvent:
    return LeadEvent(type=type, event_id="e-1", **kw)


# (name, stage, event, expected fields of the Decision; unlisted fields keep Decision() defaults)
CASES = [
    ("reply_positive", Stage.IN_PROCESS, ev("reply", intent="positive"),
     dict(stage=Stage.QUALIFIED, reason=Reason.POSITIVE_REPLY, level=Level.SQL, two_way_contact=True,
          rep_task="Positive reply: book the meeting and hand off.")),
    ("reply_neutral_from_new", Stage.NEW, ev("reply", intent="neutral"),
     dict(stage=Stage.IN_PROCESS, reason=Reason.NEUTRAL_REPLY, two_way_contact=True, hold_for_rep=True,
          rep_task="The lead replied: answer their question.")),
    ("reply_neutral_from_nurture", Stage.NURTURE, ev("reply", intent="neutral"),
     dict(stage=Stage.IN_PROCESS, reason=Reason.REPLIED_IN_NURTURE, two_way_contact=True, hold_for_rep=True,
          rep_task="The lead replied: answer their question.")),
    ("reply_negative", Stage.IN_PROCESS, ev("reply", intent="negative"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.NEGATIVE_REPLY, two_way_contact=True)),
    ("reply_unsubscribe", Stage.IN_PROCESS, ev("reply", intent="unsubscribe"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.UNSUBSCRIBED, two_way_contact=True, suppress_email=True)),
    ("reply_out_of_office", Stage.IN_PROCESS, ev("reply", intent="out_of_office", return_date="2024-07-01"),
     dict(out_of_office=True)),
    ("meeting_booked", Stage.NEW, ev("meeting_booked"),
     dict(stage=Stage.QUALIFIED, reason=Reason.MEETING_BOOKED, level=Level.SQL, two_way_contact=True,
          rep_task="Meeting booked: prepare and hand off.")),
    ("call_connected_positive", Stage.IN_PROCESS, ev("call_outcome", outcome="connected_positive"),
     dict(stage=Stage.QUALIFIED, reason=Reason.POSITIVE_REPLY, level=Level.SQL, two_way_contact=True,
          rep_task="Positive call: book the meeting and hand off.")),
    ("call_connected_neutral_from_new", Stage.NEW, ev("call_outcome", outcome="connected_neutral"),
     dict(stage=Stage.IN_PROCESS, reason=Reason.CONNECTED_CALL, two_way_contact=True, hold_for_rep=True,
          rep_task="Connected call: follow up on what was discussed.")),
    ("call_connected_neutral_from_nurture", Stage.NURTURE, ev("call_outcome", outcome="connected_neutral"),
     dict(stage=Stage.IN_PROCESS, reason=Reason.REPLIED_IN_NURTURE, two_way_contact=True, hold_for_rep=True,
          rep_task="Connected call: follow up on what was discussed.")),
    ("call_connected_negative", Stage.IN_PROCESS, ev("call_outcome", outcome="connected_negative"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.NEGATIVE_REPLY, two_way_contact=True)),
    ("call_voicemail", Stage.IN_PROCESS, ev("call_outcome", outcome="voicemail"), dict()),
    ("call_no_answer", Stage.IN_PROCESS, ev("call_outcome", outcome="no_answer"), dict()),
    ("call_wrong_number", Stage.IN_PROCESS, ev("call_outcome", outcome="wrong_number"),
     dict(block_channels=PHONE)),
    ("task_done", Stage.IN_PROCESS, ev("task_completed", outcome="done"), dict()),
    ("task_skipped", Stage.IN_PROCESS, ev("task_completed", outcome="skipped"), dict()),
    ("task_no_outcome", Stage.IN_PROCESS, ev("task_completed"), dict()),
    ("task_connected_positive", Stage.NEW, ev("task_completed", outcome="connected_positive"),
     dict(stage=Stage.QUALIFIED, reason=Reason.POSITIVE_REPLY, level=Level.SQL, two_way_contact=True,
          rep_task="Positive call: book the meeting and hand off.")),
    ("qualify_all_true", Stage.IN_PROCESS,
     ev("qualify", answers={"need": True, "budget": True, "authority": True, "timeline": True}),
     dict(stage=Stage.QUALIFIED, reason=Reason.QUALIFIED_BY_REP, level=Level.SQL, two_way_contact=True,
          rep_task="Qualified on need, budget, authority and timeline: hand off.")),
    ("qualify_partial_true", Stage.IN_PROCESS,
     ev("qualify", answers={"need": True, "budget": True, "authority": None, "timeline": None}),
     dict(stage=Stage.IN_PROCESS, reason=Reason.PARTIALLY_QUALIFIED, two_way_contact=True, hold_for_rep=True)),
    ("qualify_partial_false", Stage.NEW,
     ev("qualify", answers={"need": True, "budget": False, "authority": True, "timeline": True}),
     dict(stage=Stage.IN_PROCESS, reason=Reason.PARTIALLY_QUALIFIED, two_way_contact=True, hold_for_rep=True)),
    ("qualify_one_answer_missing", Stage.IN_PROCESS,
     ev("qualify", answers={"need": True, "budget": True, "authority": True}),
     dict(stage=Stage.IN_PROCESS, reason=Reason.PARTIALLY_QUALIFIED, two_way_contact=True, hold_for_rep=True)),
    ("qualify_all_none", Stage.IN_PROCESS,
     ev("qualify", answers={"need": None, "budget": None, "authority": None, "timeline": None}), dict()),
    ("qualify_empty", Stage.IN_PROCESS, ev("qualify"), dict()),
    ("disqualify", Stage.IN_PROCESS, ev("disqualify", notes="no budget"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.REP_DISQUALIFIED, two_way_contact=True)),
    ("spam_report", Stage.IN_PROCESS, ev("spam_report"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.SPAM_REPORT, two_way_contact=False, suppress_email=True)),
    ("bounce", Stage.IN_PROCESS, ev("bounce"), dict(block_channels=EMAIL)),
    ("contact_updated_email", Stage.IN_PROCESS, ev("contact_updated", changed=["email"]),
     dict(unblock_channels=EMAIL)),
    ("contact_updated_phone", Stage.IN_PROCESS, ev("contact_updated", changed=["phone"]),
     dict(unblock_channels=PHONE)),
    ("contact_updated_both", Stage.IN_PROCESS, ev("contact_updated", changed=["email", "phone", "title"]),
     dict(unblock_channels=EMAIL | PHONE)),
    ("contact_updated_other", Stage.IN_PROCESS, ev("contact_updated", changed=["title"]), dict()),
    ("pause", Stage.IN_PROCESS, ev("pause"), dict(control="pause")),
    ("resume", Stage.IN_PROCESS, ev("resume"), dict(control="resume")),
    ("stop", Stage.IN_PROCESS, ev("stop"), dict(control="stop")),
    ("reassign", Stage.IN_PROCESS, ev("reassign", owner="rep@example.com"), dict(owner="rep@example.com")),
    ("accept", Stage.NEW, ev("accept", owner="rep@example.com"), dict(level=Level.SAL, owner="rep@example.com")),
    ("unsubscribe_from_provider", Stage.NEW, ev("unsubscribe"),
     dict(stage=Stage.NOT_INTERESTED, reason=Reason.UNSUBSCRIBED, two_way_contact=True, suppress_email=True)),
    # a reply from a sender who is neither the lead nor its company: recorded, whatever it says
    ("unverified_positive_reply", Stage.NEW, ev("unverified_reply", intent="positive"), dict()),
    ("unverified_unsubscribe", Stage.IN_PROCESS, ev("unverified_reply", intent="unsubscribe"), dict()),
    ("unverified_in_nurture", Stage.NURTURE, ev("unverified_reply", intent="neutral"), dict()),
]


@pytest.mark.parametrize(("stage", "event", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(stage: Stage, event: LeadEvent, expected: dict) -> None:
    assert decide(stage, event) == Decision(**expected)


@pytest.mark.parametrize(
    ("event", "ends"),
    [
        (ev("reply", intent="positive"), True),
        (ev("reply", intent="unsubscribe"), True),
        (ev("meeting_booked"), True),
        (ev("disqualify"), True),
        (ev("reply", intent="neutral"), False),
        (ev("reply", intent="out_of_office"), False),
        (ev("bounce"), False),
        (ev("pause"), False),
    ],
)
def test_ends_cadence(event: LeadEvent, ends: bool) -> None:
    assert decide(Stage.IN_PROCESS, event).ends_cadence is ends


def test_no_change_decision_has_no_stage() -> None:
    decision = decide(Stage.IN_PROCESS, ev("call_outcome", outcome="no_answer"))
    assert decision.stage is None and decision.reason is None and decision.level is None
    assert decision.block_channels == frozenset() and not decision.ends_cadence


@pytest.mark.parametrize(
    ("event", "match"),
    [
        (ev("reply", intent="maybe"), "unknown reply intent 'maybe'"),
        (ev("reply"), "unknown reply intent None"),
        (ev("call_outcome", outcome="busy"), "unknown call outcome 'busy'"),
        (ev("task_completed", outcome="busy"), "unknown call outcome 'busy'"),
        (ev("teleport"), "unknown event type 'teleport'"),
    ],
)
def test_unknown_values_raise(event: LeadEvent, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decide(Stage.IN_PROCESS, event)


def test_external_ids_are_bounded_and_stable() -> None:
    assert bounded_id("call-81") == "call-81"
    assert bounded_id("m" * MAX_EXTERNAL_ID) == "m" * MAX_EXTERNAL_ID
    long_id = "<" + "x" * 500 + "@mail.example.com>"
    assert bounded_id(long_id) == bounded_id(long_id) != bounded_id(long_id + "y")
    assert len(bounded_id(long_id)) <= MAX_EXTERNAL_ID and bounded_id(long_id).startswith("sha256-")
