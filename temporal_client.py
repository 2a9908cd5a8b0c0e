"""One way to reach Temporal, shared by the worker and the API (local dev server or Cloud)."""
from __future__ import annotations

from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from config import Settings
from persistence.db import Database, database_for
from privacy.codec import data_converter


async def connect(settings: Settings, db: Database | None = None, runtime: Runtime | None = None) -> Client:
    """A client whose payloads are encrypted (see privacy/codec.py); `db` holds the lead keys.
    `runtime`: the worker's, when it exports the SDK's metrics."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        tls=settings.temporal_tls or bool(settings.temporal_api_key),
        data_converter=data_converter(settings, db or database_for(settings.resolved_database_url)),
        runtime=runtime,
    )


class SearchAttributesMissing(RuntimeError):
    pass


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the lead workflow's search attributes (workflows/search_attributes.py) that the
    namespace lacks, and return their names. A workflow that upserts an attribute the server does
    not know fails its task, so the worker checks before it takes work. Where this client may not
    register them (Temporal Cloud, a cluster without operator rights) it raises, naming the commands."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    from workflows.search_attributes import ALL, CLI_TYPES

    types = {"Keyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, "Int": IndexedValueType.INDEXED_VALUE_TYPE_INT,
             "Datetime": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME}
    try:
        try:
            listed = await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace))
            known = set(listed.custom_attributes)
        except RPCError as exc:  # the time-skipping test server only adds them
            if exc.status != RPCStatusCode.UNIMPLEMENTED:
                raise
            known = set()
        missing = {k.name: types[CLI_TYPES[k]] for k in ALL if k.name not in known}
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
    except Exception as exc:  # no operator rights here: say what to run where there are
        commands = "\n".join(f"  temporal operator search-attribute create --namespace {namespace} "
                             f"--name {k.name} --type {CLI_TYPES[k]}" for k in ALL)
        raise SearchAttributesMissing(
            f"the lead workflow's search attributes could not be checked or registered ({exc}). "
            f"Create them once per namespace:\n{commands}\n(on Temporal Cloud: tcld namespace "
            f"search-attributes add, or the Cloud UI)") from exc
    return sorted(missing)
