"""Local HTTP stand-in for SendGrid's v3 Mail Send API (stdlib only).

Point the official client at it:
    SendGridAPIClient(api_key=..., host=standin.url)
The client (python_http_client, version=3) POSTs to f"{host}/v3/mail/send".
"""
from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAIL_SEND_PATH = "/v3/mail/send"
MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
RESERVED_HEADERS = {
    "x-sg-id", "x-sg-eid", "received", "dkim-signature", "content-type",
    "content-transfer-encoding", "to", "from", "subject", "reply-to", "cc", "bcc",
}
_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_DEFAULT_MESSAGES = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "access forbidden",
    404: "not found",
    413: "Payload Too Large",
    429: "too many requests",
    500: "internal error",
    503: "service unavailable",
}


def _error(message: str, field: str | None = None) -> dict:
    return {"message": message, "field": field, "help": None}


def _errors_body(*errors: dict) -> dict:
    return {"errors": list(errors)}


def _valid_email(value) -> bool:
    return isinstance(value, str) and bool(_EMAIL_RE.match(value))


def _type_name(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", list: "array",
            dict: "object", type(None): "null"}.get(type(value), "string")


def _check_custom_args(args, field: str, errors: list) -> dict:
    """Validate one custom_args object; return its string-valued entries."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        errors.append(_error("custom_args must be an object.", field))
        return {}
    for key, value in args.items():
        if not isinstance(value, str):
            errors.append(_error(
                f"Invalid type for custom_args '{key}'. Expected: string, "
                f"given: {_type_name(value)}.", field))
    return args


def validate_mail(body) -> list[dict]:
    """Return every validation problem, in SendGrid's error shape."""
    if not isinstance(body, dict):
        return [_error("The request body must be a JSON object.")]
    errors: list[dict] = []
    templated = bool(body.get("template_id"))

    # personalizations / recipients
    perss = body.get("personalizations")
    if not isinstance(perss, list) or not perss:
        errors.append(_error(
            "The personalizations field is required and must have at least "
            "one personalization.", "personalizations"))
        perss = []
    elif len(perss) > MAX_PERSONALIZATIONS:
        errors.append(_error(
            f"You may not have more than {MAX_PERSONALIZATIONS} "
            "personalizations per API request.", "personalizations"))
    for i, p in enumerate(perss):
        base = f"personalizations.{i}"
        if not isinstance(p, dict):
            errors.append(_error("Each personalization must be an object.", base))
            continue
        to = p.get("to")
        if not isinstance(to, list) or not to:
            errors.append(_error(
                "The to array is required for all personalization objects, "
                "and must have at least one email object with a valid email "
                "address.", f"{base}.to"))
        for kind in ("to", "cc", "bcc"):
            recipients = p.get(kind)
            for j, r in enumerate(recipients if isinstance(recipients, list) else []):
                if not (isinstance(r, dict) and _valid_email(r.get("email"))):
                    errors.append(_error(
                        "Does not contain a valid address.",
                        f"{base}.{kind}.{j}.email"))

    # from / reply_to
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        errors.append(_error(
            "The from object must be provided for every email send. It is an "
            "object that requires the email parameter, but may also contain "
            "a name parameter.", "from.email"))
    elif not _valid_email(sender["email"]):
        errors.append(_error(
            "The from email does not contain a valid address.", "from.email"))
    if "reply_to" in body:
        reply_to = body["reply_to"]
        if not (isinstance(reply_to, dict) and _valid_email(reply_to.get("email"))):
            errors.append(_error(
                "The reply_to email does not contain a valid address.",
                "reply_to.email"))

    # subject: top level, or in every personalization (templates may supply it)
    def has_subject(obj):
        return isinstance(obj, dict) and isinstance(obj.get("subject"), str) \
            and obj["subject"] != ""
    if not templated and not has_subject(body) and not (
            perss and all(has_subject(p) for p in perss)):
        errors.append(_error(
            "The subject is required. You can get around this requirement if "
            "you use a template with a subject defined or if every "
            "personalization has a subject defined.", "subject"))

    # content: required unless template_id; validated whenever present
    content = body.get("content")
    if content is None and not templated:
        errors.append(_error(
            "Unless a valid template_id is provided, the content parameter is "
            "required. There must be at least one defined content block.",
            "content"))
    elif content is not None:
        if not isinstance(content, list) or not content:
            errors.append(_error(
                "The content field must be an array with at least one content "
                "block.", "content"))
            content = []
        for i, block in enumerate(content):
            block = block if isinstance(block, dict) else {}
            if not isinstance(block.get("type"), str) or not block.get("type"):
                errors.append(_error(
                    "The content type must be a string at least one character "
                    "in length.", f"content.{i}.type"))
            if not isinstance(block.get("value"), str) or not block.get("value"):
                errors.append(_error(
                    "The content value must be a string at least one "
                    "character in length.", f"content.{i}.value"))
        types = [b.get("type") for b in content if isinstance(b, dict)]
        if "text/plain" in types and types[0] != "text/plain":
            errors.append(_error(
                "If present, text/plain content must be first, followed by "
                "any other content.", "content"))

    # headers: string values, no reserved names
    headers = body.get("headers")
    if headers is not None:
        if not isinstance(headers, dict):
            errors.append(_error("headers must be an object.", "headers"))
            headers = {}
        for name, value in headers.items():
            if name.lower() in RESERVED_HEADERS:
                errors.append(_error(
                    f"The following header is reserved and cannot be set: "
                    f"{name}", "headers"))
            if not isinstance(value, str):
                errors.append(_error(
                    f"Invalid type for header '{name}'. Expected: string, "
                    f"given: {_type_name(value)}.", "headers"))

    # custom_args: string values; top-level + personalization merged < 10,000 bytes
    top_args = _check_custom_args(body.get("custom_args"), "custom_args", errors)
    scopes = [(f"personalizations.{i}.custom_args",
               _check_custom_args(p.get("custom_args"),
                                  f"personalizations.{i}.custom_args", errors))
              for i, p in enumerate(perss) if isinstance(p, dict)]
    for field, args in scopes or [("custom_args", {})]:
        size = len(json.dumps({**top_args, **args}, separators=(",", ":")).encode())
        if size >= MAX_CUSTOM_ARGS_BYTES:
            errors.append(_error(
                f"The custom_args must total less than {MAX_CUSTOM_ARGS_BYTES} "
                "bytes.", field if args else "custom_args"))
    return errors


class SendGridStandIn:
    def __init__(self, api_key: str = "SG.test-key"):
        self.api_key = api_key
        self.accepted: list[dict] = []   # bodies answered 202, in order
        self.requests: list[dict] = []   # every request with its status, once answered
        self.arrivals = 0                # requests received, answered or not (a hung one counts at once)
        self._scripted: deque = deque()  # (status, body) pending responses
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ------------------------------------------------------------
    def start(self) -> "SendGridStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="sendgrid-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> "SendGridStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("SendGridStandIn is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # scripting ------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, body: dict | None = None,
                  retry_after: int | None = None) -> None:
        """Answer the next `count` mail-send requests with `status` (a 429 with `Retry-After`
        seconds when given)."""
        if body is None:
            body = _errors_body(_error(_DEFAULT_MESSAGES.get(status, "error")))
        with self._lock:
            self._scripted.extend([(status, body, retry_after)] * count)

    def hang_next(self, seconds: float, count: int = 1) -> None:
        """Accept the next `count` requests, then answer only after `seconds`: a client with a
        shorter timeout never hears that SendGrid took the message."""
        with self._lock:
            self._scripted.extend([("hang", seconds, None)] * count)

    def reset_next(self, count: int = 1) -> None:
        """Read the next `count` requests, then close the connection without answering."""
        with self._lock:
            self._scripted.extend([("reset", None, None)] * count)

    # request handling -----------------------------------------------------
    def _respond(self, method: str, path: str, headers: dict, raw: bytes):
        """Return (status, extra_headers, body_dict_or_None, recorded_body)."""
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        recorded = parsed if parsed is not None else text

        if method != "POST" or path.split("?", 1)[0] != MAIL_SEND_PATH:
            return 404, {}, _errors_body(_error("not found")), recorded
        with self._lock:
            scripted = self._scripted.popleft() if self._scripted else None
        if scripted and scripted[0] in ("hang", "reset"):
            return scripted[0], {"seconds": scripted[1]}, None, recorded
        if scripted:
            status, body, retry_after = scripted
            extra = {}
            if status == 429:
                extra = {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                         "X-RateLimit-Reset": str(int(time.time()) + 1)}
                if retry_after is not None:
                    extra["Retry-After"] = str(retry_after)
            return status, extra, body, recorded
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if auth != f"Bearer {self.api_key}":
            return 401, {}, _errors_body(_error(_DEFAULT_MESSAGES[401])), recorded
        if parsed is None:
            return 400, {}, _errors_body(_error(
                "Bad Request: the request body must be valid JSON.")), recorded
        errors = validate_mail(parsed)
        if errors:
            return 400, {}, {"errors": errors}, recorded
        return 202, {"X-Message-Id": secrets.token_urlsafe(16)}, None, recorded

    def _handler_class(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with standin._lock:
                    standin.arrivals += 1
                headers = dict(self.headers.items())
                status, extra, body, recorded = standin._respond(
                    self.command, self.path, headers, raw)
                if status == "reset":  # the request was read; the answer never comes
                    with standin._lock:
                        standin.requests.append({"path": self.path, "headers": headers, "body": recorded,
                                                 "status": "reset"})
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if status == "hang":  # taken, as SendGrid would, but answered too late
                    time.sleep(extra["seconds"])
                    status, extra = 202, {"X-Message-Id": secrets.token_urlsafe(16)}
                with standin._lock:
                    standin.requests.append({"path": self.path, "headers": headers,
                                             "body": recorded, "status": status})
                    if status == 202:
                        standin.accepted.append(recorded)
                payload = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args):  # keep test output quiet
                pass

        return Handler
