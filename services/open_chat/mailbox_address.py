"""The address of the mailbox the admins mail open-chat exports to (KAKAO_IMPORT_MAILBOX).

Read by the settings (to refuse a wrong URL at start), the wiring (the address shown to
admins) and the mail job (jobs/open_chat_mail.py, which reads the mailbox): it lives
below all three, so the settings do not import a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class MailboxError(ValueError):
    """KAKAO_IMPORT_MAILBOX is not a mailbox URL we can use."""


@dataclass(frozen=True)
class Mailbox:
    """Where the exports are mailed to (the password apart: it is never in a URL)."""

    host: str
    port: int
    user: str
    folder: str
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> Mailbox:
        parts = urlsplit(url)
        if parts.scheme not in ("imap", "imaps") or not parts.hostname or not parts.username:
            raise MailboxError("use imaps://USER@HOST[:PORT][/FOLDER] (or imap:// on a "
                               "trusted network)")
        if parts.password:
            raise MailboxError("put the password in KAKAO_IMPORT_MAILBOX_PASSWORD, not in "
                               "the URL")
        tls = parts.scheme == "imaps"
        return cls(parts.hostname, parts.port or (993 if tls else 143), unquote(parts.username),
                   unquote(parts.path.strip("/")) or "INBOX", tls)

    def __str__(self) -> str:  # what a log may show
        return f"{'imaps' if self.tls else 'imap'}://{self.user}@{self.host}:{self.port}/" \
               f"{self.folder}"
