"""Dependencies shared by the routers: settings, database sessions, the Temporal client."""
from __future__ import annotations

from typing import Annotated, Any, Iterator

from anyio import from_thread
from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from temporalio.client import Client

from api.rate_limits import Limits
from config import Settings
from persistence.db import Database


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_limits(request: Request) -> Limits:
    return request.app.state.limits


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.db.session() as session:
        yield session


class Temporal:
    """The process's one Temporal client, usable from the sync route handlers."""

    def __init__(self, request: Request):
        self._app = request.app

    @property
    def client(self) -> Client:
        link = self._app.state.temporal_link
        client = link.client or from_thread.run(link.get)  # not connected yet: try now (rate-limited)
        if client is None:
            raise HTTPException(503, "Temporal is not reachable; check TEMPORAL_ADDRESS and /healthz")
        return client

    def call(self, fn, *args: Any, **kwargs: Any) -> Any:
        async def _run():
            return await fn(*args, **kwargs)
        return from_thread.run(_run)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
DatabaseDep = Annotated[Database, Depends(get_db)]
TemporalDep = Annotated[Temporal, Depends(Temporal)]
LimitsDep = Annotated[Limits, Depends(get_limits)]


def unprocessable(field: str, message: str, location: str = "body") -> HTTPException:
    """A 422 in FastAPI's own shape, so clients parse one error format."""
    return HTTPException(422, [{"loc": [location, field], "msg": message, "type": "value_error"}])
