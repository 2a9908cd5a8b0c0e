"""Engine and sessions: SQLite (WAL) by default, PostgreSQL by DATABASE_URL."""
from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


STATEMENT_TIMEOUT_MS = 15_000
LOCK_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver we ship; plain postgresql:// URLs mean it.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # WAL lets the API read while the worker writes
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    @event.listens_for(engine, "connect")
    def _postgres_timeouts(conn, _record):
        # No statement or lock wait outlives the activity that runs it (30-60 s start-to-close): a
        # stuck query ends as an error the activity retries, not a thread held for ever.
        cur = conn.cursor()
        cur.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
        cur.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
        cur.close()
        conn.commit()

    return engine


class Database:
    def __init__(self, url: str):
        self.url = normalise_url(url)
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def create_all(self) -> None:
        """Tests and `make run` use Alembic; this is for throwaway databases."""
        from persistence.models import Base

        Base.metadata.create_all(self.engine)


@lru_cache
def database_for(url: str) -> Database:
    return Database(url)
