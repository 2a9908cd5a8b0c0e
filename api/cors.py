"""Cross-origin calls for the codec endpoint only: the Temporal Web UI decodes history from the
browser, on another origin (CADENCE_CODEC_ORIGINS), with the Cadence UI session's cookie. Every
other route stays same-origin."""
from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class CodecCors:
    def __init__(self, app: ASGIApp, origins: list[str]):
        self.app = app
        # Preflights are answered here, before the gate: they carry no credentials by design.
        self.cors = CORSMiddleware(app, allow_origins=origins, allow_credentials=True, allow_methods=["POST"],
                                   allow_headers=["Content-Type", "X-Namespace", "Authorization"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/codec/"):
            return await self.cors(scope, receive, send)
        await self.app(scope, receive, send)
