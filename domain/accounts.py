"""Accounts (SPEC 2.7): leads with the same company email domain are one account."""
from __future__ import annotations

# Mailbox providers: two people on these are not colleagues.
PERSONAL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "outlook.com", "hotmail.com",
    "hotmail.co.uk", "live.com", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.com", "yandex.ru",
    "zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com", "126.com",
})
ACCOUNT_REPLY_INTENTS = frozenset({"positive", "neutral", "negative"})  # a person answered for the company


def account_domain(email: str) -> str | None:
    """The company domain of an address, or None for personal mailboxes."""
    domain = email.rpartition("@")[2].strip().lower()
    return None if not domain or domain in PERSONAL_DOMAINS else domain


def sender_is_lead_or_company(lead_email: str, sender: str | None) -> bool:
    """Whether a reply's From address is the lead's own or one at its company's domain. On a
    mailbox provider's domain (no company domain), only the lead's own address counts."""
    address = (sender or "").strip().lower()
    if not address or "@" not in address:
        return False
    if address == lead_email.strip().lower():
        return True
    company = account_domain(lead_email)
    return company is not None and address.rpartition("@")[2] == company
