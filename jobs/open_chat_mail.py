"""Exports delivered by e-mail: a phone can only save or share KakaoTalk's export (mail
is the usual way), and a KakaoTalk channel chatbot cannot receive files, so the
community's admins mail the export to a mailbox the bot reads.

With KAKAO_IMPORT_MAILBOX (`imaps://user@host[:port][/FOLDER]`, or `imap://` on a trusted
network) and KAKAO_IMPORT_SENDERS, `autogram run` polls the mailbox: each message from an
allowed sender has its attached exports (.txt, .csv, .zip) imported once (the message's
Message-ID recorded) and the report sent to the admins. Nothing is replied by mail, no
flag is changed on the server (every read is a PEEK), and mail from anyone else is left
alone. The password comes from KAKAO_IMPORT_MAILBOX_PASSWORD and is never logged.

IMAP is blocking (imaplib), so every exchange with the server runs in a thread, and never
inside a database transaction.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import imaplib
import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import getaddresses
from urllib.parse import unquote, urlsplit

from jobs.open_chat_folder import ReportSink, content_key, import_export
from services.container import Services
from services.kakao_export import MAX_UPLOAD, ExportUnreadable

log = logging.getLogger(__name__)
MAIL_JOB = "kakao_import_mail"
SUFFIXES = (".txt", ".csv", ".zip")
# A mail carries its attachments in base64 (4/3 of their size) beside its text.
MAX_MAIL = MAX_UPLOAD * 3 // 2
TIMEOUT_SECONDS = 30
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


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


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


@dataclass(frozen=True)
class Mail:
    key: str  # the record of this mail: a digest of its Message-ID
    sender: str
    attachments: tuple[Attachment, ...]
    too_big: bool = False


def senders_from(setting: str) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in re.split(r"[,\s]+", setting) if a.strip())


def _key(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode()).hexdigest()


def _sender(header: str) -> str:
    addresses = getaddresses([header])
    return addresses[0][1].lower() if addresses else ""


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found = []
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        if name.lower().endswith(SUFFIXES):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                found.append(Attachment(name, data))
    return tuple(found)


def fetch_new_mail(box: Mailbox, password: str, senders: frozenset[str],
                   seen: frozenset[str], since: date) -> list[Mail]:
    """The mailbox's messages from `senders` since `since` whose key is not in `seen`,
    with their exports (blocking: run in a thread). Nothing is flagged or deleted."""
    client: imaplib.IMAP4 = (imaplib.IMAP4_SSL if box.tls else imaplib.IMAP4)(
        box.host, box.port, timeout=TIMEOUT_SECONDS)
    try:
        client.login(box.user, password)
        status, _ = client.select(_quoted(box.folder), readonly=True)
        if status != "OK":
            raise imaplib.IMAP4.error(f"there is no folder {box.folder!r}")
        # An IMAP date, in English whatever the locale: "01-Dec-2026".
        day = f"{since.day:02d}-{MONTHS[since.month - 1]}-{since.year}"
        uids: list[bytes] = []
        for sender in sorted(senders):
            _, found = client.uid("SEARCH", "FROM", _quoted(sender), "SINCE", day)
            uids += (found[0] or b"").split()
        mails = []
        for uid in sorted(set(uids), key=int):
            _, head = client.uid("FETCH", uid, "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS "
                                               "(MESSAGE-ID FROM)])")
            header_bytes, size = _header_and_size(head)
            header = email.message_from_bytes(header_bytes, policy=email.policy.default)
            sender = _sender(str(header.get("From", "")))
            if sender not in senders:
                continue  # SEARCH FROM matches parts of addresses: only exact ones count
            message_id = str(header.get("Message-ID", "")) or f"uid:{uid.decode()}"
            key = _key(message_id)
            if key in seen:
                continue
            if size > MAX_MAIL:
                mails.append(Mail(key, sender, (), too_big=True))
                continue
            _, body = client.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next(part[1] for part in body if isinstance(part, tuple))
            message = email.message_from_bytes(raw, policy=email.policy.default)
            found = _attachments(message) if isinstance(message, EmailMessage) else ()
            mails.append(Mail(key, sender, found))
        return mails
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header_and_size(response: list[object]) -> tuple[bytes, int]:
    for part in response:
        if isinstance(part, tuple):
            match = re.search(rb"RFC822\.SIZE (\d+)", part[0])
            return part[1], int(match.group(1)) if match else 0
    return b"", 0


async def import_mail(services: Services, box: Mailbox, password: str,
                      senders: frozenset[str], on_report: ReportSink) -> int:
    """Import the exports of every new mail from `senders`; returns how many mails were
    new. A mailbox that cannot be reached is logged and tried again next time."""
    async with services.transaction() as tx:
        seen = frozenset(await tx.open_chat.keys_seen(MAIL_JOB))
        # Older mail holds nothing an import would take (it reads the last weeks only).
        since = (tx.now() - timedelta(weeks=tx.rules.kakao_import_weeks + 1)).date()
    try:
        mails = await asyncio.to_thread(fetch_new_mail, box, password, senders, seen, since)
    except (imaplib.IMAP4.error, OSError) as exc:  # the server's words hold no password
        log.warning("mailbox %s could not be read: %s: %s", box, type(exc).__name__,
                    str(exc)[:200])
        return 0
    for mail in mails:
        label = mail.sender
        if mail.too_big:
            await on_report(label, ExportUnreadable("upload_too_big", limit=MAX_UPLOAD // 2**20))
        elif not mail.attachments:
            await on_report(label, ExportUnreadable("mail_without_export"))
        for attachment in mail.attachments:
            name = f"{attachment.name} ({mail.sender})"
            if not await import_export(services, content_key(attachment.data), name,
                                       attachment.data, on_report):
                await on_report(name, ExportUnreadable("already_imported"))
        async with services.transaction() as tx:
            await tx.open_chat.remember_mail(MAIL_JOB, mail.key, mail.sender,
                                             [a.name for a in mail.attachments])
    return len(mails)
