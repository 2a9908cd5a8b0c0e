"""The codec server of the Temporal Web UI and CLI: encrypted payloads in, readable ones out.

Temporal's remote codec protocol: POST /codec/decode and /codec/encode with
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}` and the namespace in `X-Namespace`;
the answer has the same shape. History stays encrypted on the server; only a caller allowed here
reads it, and an erased lead's payloads do not decode for anyone.
"""
from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload

from api.deps import DatabaseDep, SettingsDep
from privacy.codec import CadenceCodec, LeadKeyGone
from privacy.keys import KeyProblem, ring_for

router = APIRouter(prefix="/codec", tags=["codec"])


class CodecPayload(BaseModel):
    metadata: dict[str, str] = {}
    data: str = ""


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = []


def _from_json(body: bytes) -> list[Payload]:
    try:  # parsed here, not as a body model: the CLI and UI do not all send a JSON content type
        parsed = CodecPayloads.model_validate_json(body or b"{}")
        return [Payload(metadata={k: base64.b64decode(v, validate=True) for k, v in p.metadata.items()},
                        data=base64.b64decode(p.data, validate=True)) for p in parsed.payloads]
    except (ValidationError, binascii.Error, ValueError) as exc:
        raise HTTPException(400, f"expected {{'payloads': [{{'metadata': ..., 'data': ...}}]}}, base64: {exc}") \
            from None


def _to_json(payloads: list[Payload]) -> dict:
    return {"payloads": [{"metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                          "data": base64.b64encode(p.data).decode()} for p in payloads]}


async def _run(direction: str, request: Request, settings, db, namespace: str | None) -> dict:
    if namespace and namespace != settings.temporal_namespace:
        raise HTTPException(400, f"this codec serves namespace {settings.temporal_namespace!r}, not {namespace!r}")
    payloads = _from_json(await request.body())
    codec = CadenceCodec(ring_for(settings), db)  # no workflow context: encode uses the payload key
    try:
        return _to_json(await getattr(codec, direction)(payloads))
    except LeadKeyGone as exc:
        raise HTTPException(410, str(exc)) from None
    except (KeyProblem, ValueError) as exc:  # altered, or sealed with a key this deployment lacks
        raise HTTPException(422, str(exc)) from None


@router.post("/decode")
async def decode(request: Request, settings: SettingsDep, db: DatabaseDep,
                 x_namespace: Annotated[str | None, Header()] = None) -> dict:
    return await _run("decode", request, settings, db, x_namespace)


@router.post("/encode")
async def encode(request: Request, settings: SettingsDep, db: DatabaseDep,
                 x_namespace: Annotated[str | None, Header()] = None) -> dict:
    return await _run("encode", request, settings, db, x_namespace)
