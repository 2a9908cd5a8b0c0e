"""The search attributes a lead's workflow keeps up to date, so `temporal workflow list --query`
(and migrations) find leads by stage, rank, owner and cadence without the database. None of them
holds personal data: ids, names of stages and cadences, a rep's id, a time."""
from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("CadenceStage")
RANK = SearchAttributeKey.for_keyword("CadenceRank")
OWNER = SearchAttributeKey.for_keyword("CadenceOwner")
NAME = SearchAttributeKey.for_keyword("CadenceName")
VERSION = SearchAttributeKey.for_int("CadenceVersion")
NEXT_TOUCH_AT = SearchAttributeKey.for_datetime("CadenceNextTouchAt")

ALL = (STAGE, RANK, OWNER, NAME, VERSION, NEXT_TOUCH_AT)
# As the temporal CLI names the types (`--search-attribute Name=Type`, `search-attribute create --type`).
CLI_TYPES = {STAGE: "Keyword", RANK: "Keyword", OWNER: "Keyword", NAME: "Keyword", VERSION: "Int",
             NEXT_TOUCH_AT: "Datetime"}


def dev_server_args() -> list[str]:
    """`temporal server start-dev` arguments that register every attribute at start."""
    args: list[str] = []
    for key in ALL:
        args += ["--search-attribute", f"{key.name}={CLI_TYPES[key]}"]
    return args
