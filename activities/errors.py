"""What retrying can fix and what it cannot, decided once for every activity.

Temporal retries an activity that raises; a non-retryable `ApplicationError` ends it at once and
the workflow decides what follows (a touch recorded `failed`, the cadence goes on). Bad content
and values the database cannot store are permanent; everything else (a database restarting, a
lock, a network error) is worth another try within the activity's budget.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from sqlalchemy.exc import DataError
from temporalio.exceptions import ApplicationError

from messaging.rendering import TemplateError


def permanent(message: str, type: str) -> ApplicationError:
    return ApplicationError(message, type=type, non_retryable=True)


@contextmanager
def classified(what: str) -> Iterator[None]:
    """Turn permanent failures inside the block into non-retryable errors naming `what`."""
    try:
        yield
    except ApplicationError:
        raise
    except TemplateError as exc:
        raise permanent(f"{what}: {exc}", "TemplateError") from exc
    except DataError as exc:  # e.g. a value longer than its column on PostgreSQL
        raise permanent(f"{what}: a value does not fit the database ({exc.orig})", "DataTooLong") from exc


