"""Mail to people outside the platform (share links, partner requests) over SMTP.

smtplib is blocking: messages go out from a thread. Without ``evidence.smtp_url`` no
mail is sent and the caller still gets the link to pass on by hand.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from urllib.parse import urlsplit

import structlog

from rtcc.core.errors import InvalidArgument, Unavailable

log = structlog.get_logger("rtcc.evidence.mail")


def check_address(address: str, field: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c in address for c in " \r\n<>,;"):
        raise InvalidArgument(f"{address!r} is not an e-mail address", field=field)
    return address


class Mailer:
    def __init__(self, smtp_url: str, sender: str) -> None:
        self.sender = sender
        parts = urlsplit(smtp_url) if smtp_url else None
        self.host = parts.hostname if parts else None
        self.port = (parts.port or 25) if parts else 0

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    async def send(self, to: str, subject: str, text: str) -> bool:
        """Send one plain-text message; False when mail is off; Unavailable on failure."""
        if not self.host:
            return False
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        try:
            await asyncio.to_thread(self._send, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail_failed", to_domain=to.rpartition("@")[2], error=type(exc).__name__)
            raise Unavailable(
                f"the mail server {self.host}:{self.port} did not take the message; "
                "the link was not sent"
            ) from None
        return True

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host or "", self.port, timeout=10) as smtp:
            smtp.send_message(message)
