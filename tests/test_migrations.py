"""The Alembic migrations build exactly the schema the models describe, on both databases."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from persistence.models import Base


def test_migrated_schema_matches_the_models(any_db):
    with any_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models and migrations differ; add a migration: {diff}"


def test_postgres_statements_time_out_before_any_activity_does(postgres_db):
    from sqlalchemy import text

    from persistence.db import STATEMENT_TIMEOUT_MS

    with postgres_db.session() as s:
        assert s.execute(text("SHOW statement_timeout")).scalar() == f"{STATEMENT_TIMEOUT_MS // 1000}s"
        assert s.execute(text("SHOW lock_timeout")).scalar() == "10s"
        assert STATEMENT_TIMEOUT_MS < 30_000  # the shortest start-to-close of an activity that queries
