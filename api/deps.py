"""Dependencies shared by the routers: settings, database sessions, the Temporal client."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Callable, Iterator, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.rate_limits import Limits
from config import Settings
from persistence.db import Database

if TYPE_CHECKING:
    from api.temporal_link import TemporalLink

T = TypeVar("T")


# The dependencies that only read the app's state are coroutines: FastAPI runs a plain function
# dependency in its thread pool, a hop per dependency per request for nothing.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_limits(request: Request) -> Limits:
    return request.app.state.limits


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


async def in_session(db: Database, work: Callable[..., T], *args: Any) -> T:
    """`work(session, *args)` in the thread pool, in a unit of work of its own: committed (rolled
    back on an error) and closed when this returns. The async routes do their database work in
    these short sessions and await Temporal between them, never holding a connection meanwhile."""
    def run() -> T:
        with db.session() as session:
            return work(session, *args)
    return await run_in_threadpool(run)


class Temporal:
    """The process's one Temporal client, awaited by the async route handlers on the event loop."""

    def __init__(self, link: TemporalLink):
        self._link = link

    async def client(self) -> Client:
        """The client; not connected yet: try now (at most every few seconds), else 503."""
        client = self._link.client or await self._link.get()
        if client is None:
            raise HTTPException(503, "Temporal is not reachable; check TEMPORAL_ADDRESS and /healthz")
        return client


async def get_temporal(request: Request) -> Temporal:
    return Temporal(request.app.state.temporal_link)


SettingsDep = Annotated[Settings, Depends(get_settings)]
# Committed (and closed) when the route function has returned and its answer is serialized, before
# the answer is sent: a client's next request sees what this one wrote.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_db)]
TemporalDep = Annotated[Temporal, Depends(get_temporal)]
LimitsDep = Annotated[Limits, Depends(get_limits)]


def unprocessable(field: str, message: str, location: str = "body") -> HTTPException:
    """A 422 in FastAPI's own shape, so clients parse one error format."""
    return HTTPException(422, [{"loc": [location, field], "msg": message, "type": "value_error"}])
