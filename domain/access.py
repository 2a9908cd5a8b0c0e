"""Roles and what each may do: fixed sets of permissions, checked in one place (api/policy.py).

A `rep` holds its permissions only over its own leads and tasks (the lead's `owner`, the
task's `owner`); the API narrows every query to them, and another rep's lead is a 404.
"""
from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # everything, including keys and users
    OPS = "ops"  # cadences, ranking, mailboxes, reps, migrations, reports, every lead and task
    REP = "rep"  # its own leads and tasks; reads cadences
    INTEGRATION = "integration"  # web forms, CRMs, dialers: creates leads and signals them


class Permission(StrEnum):
    LEADS_CREATE = "leads:create"
    LEADS_READ = "leads:read"
    LEADS_SIGNAL = "leads:signal"
    LEADS_ERASE = "leads:erase"  # erasure and export of a person's data (GDPR Art. 15, 17)
    TASKS_READ = "tasks:read"
    TASKS_WORK = "tasks:work"
    CADENCES_READ = "cadences:read"
    CADENCES_WRITE = "cadences:write"  # create, new versions, archive, migrate leads
    RANKING_READ = "ranking:read"
    RANKING_WRITE = "ranking:write"
    REPS_READ = "reps:read"
    REPS_WRITE = "reps:write"
    MAILBOXES_READ = "mailboxes:read"
    MAILBOXES_WRITE = "mailboxes:write"
    REPORTS_READ = "reports:read"
    OUTBOX_READ = "outbox:read"
    AUDIT_READ = "audit:read"
    CODEC = "codec"  # decode Temporal payloads for the Web UI and CLI
    WEBHOOKS_MANAGE = "webhooks:manage"  # outbound webhook endpoints and their deliveries
    METRICS_READ = "metrics:read"  # GET /metrics (Prometheus may also use CADENCE_METRICS_TOKEN)
    KEYS_MANAGE = "keys:manage"
    USERS_MANAGE = "users:manage"


_ALL = frozenset(Permission)
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.OPS: _ALL - {Permission.KEYS_MANAGE, Permission.USERS_MANAGE},
    Role.REP: frozenset({Permission.LEADS_READ, Permission.LEADS_SIGNAL, Permission.TASKS_READ,
                         Permission.TASKS_WORK, Permission.CADENCES_READ}),
    Role.INTEGRATION: frozenset({Permission.LEADS_CREATE, Permission.LEADS_SIGNAL}),
}
# Roles whose permissions reach only what they own.
OWNER_SCOPED = frozenset({Role.REP})


def allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def role_problem(role: str, rep_id: str | None) -> str | None:
    """Why a credential with this role and rep binding cannot exist, or None."""
    try:
        parsed = Role(role)
    except ValueError:
        return f"unknown role {role!r}; use one of {', '.join(r.value for r in Role)}"
    if parsed in OWNER_SCOPED and not rep_id:
        return f"a {parsed} credential needs the rep_id it acts for"
    if parsed not in OWNER_SCOPED and rep_id:
        return f"only a rep credential is bound to a rep_id, not {parsed}"
    return None
