"""The SendGrid v3 Mail Send request for one cadence email (SPEC 3.3)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sendgrid.helpers.mail import CustomArg, Header, Mail, ReplyTo

from messaging import tokens

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_layout = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]))


@dataclass(frozen=True)
class Sender:
    email: str
    name: str


@dataclass(frozen=True)
class Links:
    public_url: str
    inbound_domain: str
    secret: str

    def unsubscribe_url(self, lead_id: str) -> str:
        return f"{self.public_url.rstrip('/')}/unsubscribe/{tokens.sign('unsubscribe', lead_id, self.secret)}"

    def reply_to(self, lead_id: str) -> str:
        # Inbound Parse posts replies here; the token routes them back to the lead.
        return f"reply+{tokens.sign('reply', lead_id, self.secret)}@{self.inbound_domain}"


def build_request(*, lead_id: str, touch_id: str, to_email: str, to_name: str | None, sender: Sender,
                  subject: str, body_text: str, links: Links) -> dict[str, Any]:
    """The v3 request body, built with the official helpers; also what the outbox stores."""
    unsubscribe = links.unsubscribe_url(lead_id)
    text = f"{body_text.rstrip()}\n\n--\nNo more emails from us: {unsubscribe}\n"
    html = _layout.get_template("email.html").render(body=body_text, unsubscribe_url=unsubscribe)
    mail = Mail(from_email=(sender.email, sender.name), to_emails=[(to_email, to_name or "")] if to_name else to_email,
                subject=subject, plain_text_content=text, html_content=html)
    mail.reply_to = ReplyTo(links.reply_to(lead_id))
    mail.header = Header("List-Unsubscribe", f"<{unsubscribe}>")
    mail.header = Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")  # RFC 8058
    mail.custom_arg = CustomArg("lead_id", lead_id)
    mail.custom_arg = CustomArg("touch_id", touch_id)
    return mail.get()
