"""Prove the SendGrid stand-in against the real official `sendgrid` client."""
import json
import urllib.error
import urllib.request

import pytest
from python_http_client.exceptions import (
    BadRequestsError, InternalServerError, NotFoundError, TooManyRequestsError,
    UnauthorizedError,
)
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Header, Mail

from support.sendgrid_standin import SendGridStandIn

KEY = "SG.test-key"


@pytest.fixture
def standin():
    with SendGridStandIn(api_key=KEY) as s:
        yield s


def client(standin, key=KEY):
    return SendGridAPIClient(api_key=key, host=standin.url)


def valid_mail(**extra):
    return Mail(from_email="rep@seller.example", to_emails="lead@buyer.example",
                subject="Quick question", plain_text_content="Hi there", **extra)


def errors_of(exc):
    return exc.value.to_dict["errors"]  # a property


def test_valid_message_accepted(standin):
    resp = client(standin).send(valid_mail())
    assert resp.status_code == 202
    assert resp.body == b""
    assert resp.headers["X-Message-Id"]
    assert len(standin.accepted) == 1
    assert standin.accepted[0]["personalizations"][0]["to"] == [
        {"email": "lead@buyer.example"}]
    assert standin.requests[0]["path"] == "/v3/mail/send"
    assert standin.requests[0]["status"] == 202


def test_message_ids_unique(standin):
    sg = client(standin)
    ids = {sg.send(valid_mail()).headers["X-Message-Id"] for _ in range(3)}
    assert len(ids) == 3


def test_missing_subject_and_content_rejected(standin):
    mail = Mail(from_email="rep@seller.example", to_emails="lead@buyer.example")
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(mail)
    assert exc.value.status_code == 400
    fields = {e["field"] for e in errors_of(exc)}
    assert {"subject", "content"} <= fields
    assert all(e["help"] is None for e in errors_of(exc))
    assert standin.accepted == []


def test_template_id_waives_subject_and_content(standin):
    mail = Mail(from_email="rep@seller.example", to_emails="lead@buyer.example")
    mail.template_id = "d-123"
    assert client(standin).send(mail).status_code == 202


def test_html_before_plain_rejected(standin):
    mail = Mail(from_email="rep@seller.example", to_emails="lead@buyer.example",
                subject="s")
    body = mail.get()
    body["content"] = [{"type": "text/html", "value": "<p>x</p>"},
                       {"type": "text/plain", "value": "x"}]
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(body)
    assert [e["field"] for e in errors_of(exc)] == ["content"]


def test_wrong_key_unauthorized(standin):
    with pytest.raises(UnauthorizedError) as exc:
        client(standin, key="SG.wrong").send(valid_mail())
    assert exc.value.status_code == 401
    assert errors_of(exc)[0]["field"] is None
    assert standin.requests[0]["status"] == 401


def test_rate_limited_then_success(standin):
    standin.fail_next(429)
    sg = client(standin)
    with pytest.raises(TooManyRequestsError) as exc:
        sg.send(valid_mail())
    assert exc.value.headers["X-RateLimit-Reset"].isdigit()
    assert sg.send(valid_mail()).status_code == 202
    assert [r["status"] for r in standin.requests] == [429, 202]
    assert len(standin.accepted) == 1


def test_fail_next_count_and_custom_body(standin):
    standin.fail_next(500, count=2, body={"errors": [{"message": "boom"}]})
    sg = client(standin)
    for _ in range(2):
        with pytest.raises(InternalServerError) as exc:
            sg.send(valid_mail())
        assert exc.value.status_code == 500
        assert errors_of(exc) == [{"message": "boom"}]
    assert sg.send(valid_mail()).status_code == 202


def test_non_string_custom_arg_rejected(standin):
    mail = valid_mail()
    mail.custom_arg = CustomArg("lead_id", 42)
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(mail)
    assert [e["field"] for e in errors_of(exc)] == ["custom_args"]


def test_oversized_custom_args_rejected(standin):
    mail = valid_mail()
    mail.custom_arg = CustomArg("blob", "x" * 10_000)
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(mail)
    assert "custom_args" in {e["field"] for e in errors_of(exc)}


def test_reserved_header_rejected(standin):
    mail = valid_mail()
    mail.header = Header("X-SG-ID", "spoofed")
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(mail)
    assert [e["field"] for e in errors_of(exc)] == ["headers"]


def test_invalid_addresses_reported_per_field(standin):
    body = valid_mail().get()
    body["from"] = {"email": "not-an-address"}
    body["reply_to"] = {"email": "nope"}
    body["personalizations"].append({"to": []})
    with pytest.raises(BadRequestsError) as exc:
        client(standin).send(body)
    assert {e["field"] for e in errors_of(exc)} == {
        "from.email", "reply_to.email", "personalizations.1.to"}


def test_unknown_path_404(standin):
    with pytest.raises(NotFoundError):
        client(standin).client.templates.get()
    req = urllib.request.Request(standin.url + "/v3/mail/send", method="GET")
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 404


def test_non_json_body_rejected(standin):
    req = urllib.request.Request(
        standin.url + "/v3/mail/send", data=b"not json", method="POST",
        headers={"Authorization": f"Bearer {KEY}"})
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(req)
    assert exc.value.code == 400
    assert json.loads(exc.value.read())["errors"][0]["field"] is None
    assert standin.requests[0]["body"] == "not json"
