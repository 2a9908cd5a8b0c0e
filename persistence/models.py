"""The relational read model and the records that must outlive any process."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, TypeDecorator, UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every database (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: the product stores aware UTC times only")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class Lead(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str | None] = mapped_column(String(120))
    company: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    source: Mapped[str] = mapped_column(String(64))
    source_detail: Mapped[str | None] = mapped_column(String(500))
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rank: Mapped[str] = mapped_column(String(1), index=True)
    cadence_name: Mapped[str] = mapped_column(String(100), index=True)
    cadence_version: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(64), unique=True)
    stage: Mapped[str] = mapped_column(String(20), index=True, default="new")
    stage_reason: Mapped[str | None] = mapped_column(String(40))
    stage_changed_at: Mapped[datetime | None]
    level: Mapped[str] = mapped_column(String(3), default="mql")
    status: Mapped[str] = mapped_column(String(12), default="active")
    next_touch: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=0)  # last workflow state written
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_contact_at: Mapped[datetime | None]


class CadenceVersion(Base):
    __tablename__ = "cadence_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Touch(Base):
    """One step performed (or skipped) for one lead; its id is the idempotency key."""

    __tablename__ = "touches"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    due_at: Mapped[datetime | None]
    at: Mapped[datetime | None]
    subject: Mapped[str | None] = mapped_column(Text)
    variant: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)  # why deferred, failed or skipped
    message_id: Mapped[str | None] = mapped_column(String(200))
    # What the email provider reported afterwards (SPEC 2.8: recorded, no stage change).
    delivery: Mapped[str | None] = mapped_column(String(20))  # delivered, deferred, bounced, dropped
    opens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    clicks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Task(Base):
    """A rep's work item; completing it signals the lead's workflow."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_owner_status_due", "owner", "status", "due_at"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    touch_id: Mapped[str | None] = mapped_column(String(120))
    step: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="step")  # step, follow_up, hand_off
    owner: Mapped[str | None] = mapped_column(String(64))
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="open")
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(30))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class LeadEventRecord(Base):
    __tablename__ = "lead_events"
    __table_args__ = (UniqueConstraint("lead_id", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxEmail(Base):
    """An email written here instead of sent, when no SendGrid key is set."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    touch_id: Mapped[str] = mapped_column(String(120), unique=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id"), index=True)
    to_email: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """Addresses never to email again (unsubscribe, spam report)."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderEvent(Base):
    """An event the email provider posted, kept by its own id so a redelivery has no effect."""

    __tablename__ = "provider_events"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # e.g. "sendgrid:<sg_event_id>"
    type: Mapped[str] = mapped_column(String(30))
    lead_id: Mapped[str | None] = mapped_column(String(32), index=True)
    touch_id: Mapped[str | None] = mapped_column(String(120))
    at: Mapped[datetime]
    effect: Mapped[str] = mapped_column(Text)  # what it did, in words, for the audit trail
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RankingVersion(Base):
    """One edit of the source → rank table and each rank's default cadence; the newest applies.

    Rows are never changed or deleted, so the table's history is its audit trail."""

    __tablename__ = "ranking_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON)  # source -> rank
    cadences: Mapped[dict[str, Any]] = mapped_column(JSON)  # rank -> cadence name
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CadenceArchive(Base):
    """A cadence name that takes no new leads; it covers every version, past and future."""

    __tablename__ = "cadence_archives"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    archived_at: Mapped[datetime] = mapped_column(default=utcnow)


class Rep(Base):
    """A sales rep who owns leads and tasks (SPEC 2.6); `owner` columns hold a rep's id."""

    __tablename__ = "reps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    team: Mapped[str | None] = mapped_column(String(100), index=True)
    territories: Mapped[list[str]] = mapped_column(JSON, default=list)  # country codes; empty: any
    ranks: Mapped[list[str]] = mapped_column(JSON, default=list)  # ranks taken; empty: all
    away: Mapped[bool] = mapped_column(default=False)
    backup_id: Mapped[str | None] = mapped_column(ForeignKey("reps.id"))
    # Round-robin: the turn number of the last lead routed to this rep (compare-and-set on write).
    last_turn: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskEscalation(Base):
    """A task whose SLA passed; its primary key is what makes an escalation happen only once."""

    __tablename__ = "task_escalations"

    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    from_owner: Mapped[str | None] = mapped_column(String(64))
    to_owner: Mapped[str | None] = mapped_column(String(64))  # None: nobody to escalate to
    at: Mapped[datetime]


class Mailbox(Base):
    """A sending identity and its caps (SPEC 2.7); a rep's mailbox has the rep's email."""

    __tablename__ = "mailboxes"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    hourly_cap: Mapped[int | None] = mapped_column(Integer)
    ramp: Mapped[list[int]] = mapped_column(JSON, default=list)  # daily caps for week 1, 2, ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxSend(Base):
    """One email counted against a mailbox; keyed by touch so a retry is not counted twice."""

    __tablename__ = "mailbox_sends"
    __table_args__ = (Index("ix_mailbox_sends_mailbox_at", "mailbox", "at"),)

    touch_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    mailbox: Mapped[str] = mapped_column(ForeignKey("mailboxes.email"))
    at: Mapped[datetime]


# ---- identities, audit and personal data (who may call what; what may be read) ----------
class ApiKey(Base):
    """A machine credential; only a hash of the key is kept, the key itself is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    rep_id: Mapped[str | None] = mapped_column(ForeignKey("reps.id"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class User(Base):
    """A person who logs in to the web UI; the password is kept as an Argon2 hash."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    rep_id: Mapped[str | None] = mapped_column(ForeignKey("reps.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class UiSession(Base):
    """A logged-in browser; the cookie carries a signed random id whose hash is the key here,
    so logging out (or disabling the user) ends the session everywhere at once."""

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class AuditEntry(Base):
    """Who changed configuration or credentials, when, and what changed; rows are never changed."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))  # "key:<id>", "user:<id>" or "system"
    actor_name: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60))  # e.g. "cadence.created", "api_key.revoked"
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str | None] = mapped_column(String(320))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class LeadKey(Base):
    """A lead's own data key for its Temporal payloads, wrapped by a payload key from settings.
    Deleting the row is crypto-shredding: the lead's history can no longer be decrypted."""

    __tablename__ = "lead_keys"

    lead_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # no FK: outlives nothing
    wrapping_key_id: Mapped[str] = mapped_column(String(40))
    wrapped_key: Mapped[str] = mapped_column(String(200))  # base64 of nonce + AES-GCM ciphertext
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErasedSuppression(Base):
    """The suppression of an erased person: only a keyed hash of the address is kept, so the
    address is never emailed again and cannot be read back (GDPR Art. 17 with Art. 21)."""

    __tablename__ = "erased_suppressions"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # HMAC-SHA256 hex
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---- outbound webhooks: endpoints, the events Cadence emits, each delivery and its attempts ----
from sqlalchemy.orm import relationship  # noqa: E402  (this section's own import)


class WebhookEndpoint(Base):
    """A receiver (a CRM, a Zapier hook) and the events it takes; its signing secret is sealed with
    the payload key (CADENCE_PAYLOAD_KEYS), so a copy of the database does not hold it in the clear."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    include_reply_text: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active, paused, failing
    status_reason: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None]
    secret_key_id: Mapped[str] = mapped_column(String(40))  # the payload key that sealed the secret
    secret_sealed: Mapped[str] = mapped_column(String(200))  # base64 of nonce + AES-GCM ciphertext
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """One event, written in the transaction of the change it reports (the outbox); its id is the
    `webhook-id` every endpoint and every retry gets."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[str | None] = mapped_column(String(32), index=True)  # no FK: erasure deletes these first
    at: Mapped[datetime]  # when it happened: the payload's timestamp
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class WebhookDelivery(Base):
    """One event for one endpoint: pending, retrying, succeeded, failed (after a day) or held."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
                      Index("ix_webhook_deliveries_status_created", "status", "created_at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("webhook_events.id"), index=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_attempt_at: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    event: Mapped[WebhookEvent] = relationship()  # so a new event is inserted before its deliveries


class WebhookAttempt(Base):
    """One HTTP request of a delivery: what the receiver answered and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    response_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))


# /metrics counts touches by channel and status at every scrape: from this index alone, not the table.
Index("ix_touches_channel_status", Touch.channel, Touch.status)


# ---- lead imports: a CSV file, its rows and each row's outcome ------------------------------
class LeadImport(Base):
    """One uploaded list. The file is kept only until its rows are written to `import_rows`."""

    __tablename__ = "imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="running")  # running, done
    filename: Mapped[str | None] = mapped_column(String(255))
    cadence: Mapped[str | None] = mapped_column(String(100))  # overrides every row's cadence
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)  # the header as written
    unknown_columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    total: Mapped[int] = mapped_column(Integer, default=0)
    batch_size: Mapped[int] = mapped_column(Integer)
    start_interval_ms: Mapped[int] = mapped_column(Integer)  # between two imported leads' cadence starts
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # the CSV, until its rows are written
    created_by: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    enrolled_at: Mapped[datetime | None]  # every row has its outcome
    finished_at: Mapped[datetime | None]  # every created lead's cadence has started


class ImportRow(Base):
    """One data row of an import and its outcome; the outcome is written in the transaction that
    creates the lead, so a restarted import never enrols a row twice. `data` (the row's values) is
    cleared once the row has its outcome."""

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_import_status_row", "import_id", "status", "row"),)

    import_id: Mapped[str] = mapped_column(ForeignKey("imports.id"), primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)  # as a spreadsheet numbers it: header is 1
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, created, existing, rejected
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lead_id: Mapped[str | None] = mapped_column(String(32))  # no FK: an erased lead leaves the outcome
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{"field", "message"}]
    started_at: Mapped[datetime | None]  # a created lead's cadence workflow was started
