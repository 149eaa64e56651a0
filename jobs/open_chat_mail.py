"""Exports delivered by e-mail: a phone can only save or share KakaoTalk's export (mail
is the usual way), and a KakaoTalk channel chatbot cannot receive files, so the
community's admins mail the export to a mailbox the bot reads.

With KAKAO_IMPORT_MAILBOX (`imaps://user@host[:port][/FOLDER]`, or `imap://` on a trusted
network), KAKAO_IMPORT_SENDERS and KAKAO_IMPORT_AUTHSERV_ID, `autogram run` polls the
mailbox: each message found from an allowed sender has its attached exports (.txt, .csv,
.zip) imported once and one report per mail goes to the admins. Nothing is replied by
mail, no flag is changed on the server (every read is a PEEK). The password comes from
KAKAO_IMPORT_MAILBOX_PASSWORD and is never logged.

Trust: the server's certificate is verified (the system's CAs, or the private CA file in
KAKAO_IMPORT_MAILBOX_CAFILE), so the password only goes to the right server. `From:` is
only what the sender wrote: a mail counts as the admin's only when the topmost
`Authentication-Results` header written by the receiving server (its authserv-id is
KAKAO_IMPORT_AUTHSERV_ID; a sender can write such a header too, but only below the
server's) says DKIM passed for the From domain (header.d), or DMARC passed, or SPF passed
for a mail-from domain aligned with it. Other mail is refused and the admins told once why.

One bad mail never stops the others: every mail found is recorded by the folder's
UIDVALIDITY and its UID before its headers are read, so whatever they hold (an empty
Message-ID, broken encodings) it is reported once and passed. A Message-ID seen before
is reported once as a duplicate. IMAP is blocking (imaplib): a poll's exchange with the
server runs in a thread, with socket timeouts, under a deadline (POLL_TIMEOUT_SECONDS): a
poll past it is abandoned (its connection closed) and the next poll runs as usual. No
exchange with the server happens inside a database transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage, Message
from email.utils import getaddresses

from jobs.open_chat_folder import content_key, import_export
from services.container import Services
from services.open_chat.chat_export import MAX_UPLOAD, ExportUnreadable
from services.open_chat.importer import ImportReport, MailReport
from services.open_chat.mailbox_address import Mailbox

log = logging.getLogger(__name__)
MAIL_JOB = "kakao_import_mail"
SUFFIXES = (".txt", ".csv", ".zip")
# A mail carries its attachments in base64 (4/3 of their size) beside its text.
MAX_MAIL = MAX_UPLOAD * 3 // 2
TIMEOUT_SECONDS = 30  # each exchange with the server
POLL_TIMEOUT_SECONDS = 240  # a whole poll (the mail interval is 300 s by default)
MAILS_PER_POLL = 20  # fetched at once (each up to MAX_MAIL); the rest the next poll
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes


@dataclass(frozen=True)
class RawMail:
    """One message as the server gave it, before anything in it is read."""

    key: str  # the record of this mail: a digest of the folder, its UIDVALIDITY and UID
    uid: str
    size: int
    raw: bytes  # the whole message, or its header only when it is too big to fetch


MailSink = Callable[[MailReport], Awaitable[None]]


def senders_from(setting: str) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in re.split(r"[,\s]+", setting) if a.strip())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _key(message_id: str) -> str:  # the Message-ID's record (as before UIDs were kept)
    return _digest(message_id.strip())


def uid_key(box: Mailbox, uidvalidity: str, uid: str) -> str:
    return "uid:" + _digest(f"{box.host}:{box.port}:{box.user}:{box.folder}:{uidvalidity}:"
                            f"{uid}")[:56]


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found = []
    for part in message.iter_attachments():
        name = part.get_filename() or ""
        if name.lower().endswith(SUFFIXES):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                found.append(Attachment(name, data))
    return tuple(found)


class Connection:
    """One IMAP session, which the event loop can cut (a poll past its deadline)."""

    def __init__(self, box: Mailbox, cafile: str = "") -> None:
        self.box, self.cafile = box, cafile
        self.client: imaplib.IMAP4 | None = None
        self.abandoned = False

    def open(self) -> imaplib.IMAP4:
        if self.box.tls:
            # Verified against the system's CAs, or the private CA the setting names.
            context = ssl.create_default_context(cafile=self.cafile or None)
            self.client = imaplib.IMAP4_SSL(self.box.host, self.box.port,
                                            ssl_context=context, timeout=TIMEOUT_SECONDS)
        else:
            self.client = imaplib.IMAP4(self.box.host, self.box.port, timeout=TIMEOUT_SECONDS)
        if self.abandoned:  # cut while connecting
            self.abandon()
        return self.client

    def abandon(self) -> None:
        """Close the socket under the thread: its blocking read ends with an error."""
        self.abandoned = True
        client = self.client
        if client is None:
            return
        with contextlib.suppress(OSError, AttributeError):
            client.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError, AttributeError):
            client.sock.close()

    def close(self) -> None:
        if self.client is not None and not self.abandoned:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                self.client.logout()


def fetch_new_mail(connection: Connection, password: str, senders: frozenset[str],
                   seen: frozenset[str], since: date, limit: int = MAILS_PER_POLL
                   ) -> list[RawMail]:
    """Up to `limit` messages the server finds from `senders` since `since` whose UID
    record is not in `seen`, as raw bytes (blocking: run in a thread). Nothing in a
    message is read here; nothing is flagged or deleted. A message gone meanwhile (another
    client expunged it) is skipped: the next search will not find it."""
    box = connection.box
    client = connection.open()
    try:
        client.login(box.user, password)
        status, _ = client.select(_quoted(box.folder), readonly=True)
        if status != "OK":
            raise imaplib.IMAP4.error(f"there is no folder {box.folder!r}")
        _, validity = client.response("UIDVALIDITY")
        uidvalidity = (validity[0] or b"0").decode("ascii", "replace") if validity else "0"
        # An IMAP date, in English whatever the locale: "01-Dec-2026".
        day = f"{since.day:02d}-{MONTHS[since.month - 1]}-{since.year}"
        uids: set[str] = set()
        for sender in sorted(senders):
            _, found = client.uid("SEARCH", "FROM", _quoted(sender), "SINCE", day)
            uids.update(u.decode("ascii", "replace") for u in (found[0] or b"").split())
        mails: list[RawMail] = []
        for uid in sorted((u for u in uids if u.isdigit()), key=int):
            key = uid_key(box, uidvalidity, uid)
            if key in seen:
                continue
            if len(mails) >= limit:
                break  # the rest next time
            _, answer = client.uid("FETCH", uid, "(RFC822.SIZE)")
            size = _size(answer)
            if size is None:
                continue  # expunged meanwhile
            part = "BODY.PEEK[HEADER]" if size > MAX_MAIL else "BODY.PEEK[]"
            _, answer = client.uid("FETCH", uid, f"({part})")
            raw = _literal(answer)
            if raw is None:
                continue  # expunged meanwhile
            mails.append(RawMail(key, uid, size, raw))
        return mails
    finally:
        connection.close()


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _size(response: list[object]) -> int | None:
    for part in response or ():
        line = part[0] if isinstance(part, tuple) else part
        if isinstance(line, bytes):
            match = re.search(rb"RFC822\.SIZE (\d+)", line)
            if match:
                return int(match.group(1))
    return None


def _literal(response: list[object]) -> bytes | None:
    for part in response or ():
        if isinstance(part, tuple) and len(part) > 1 and isinstance(part[1], bytes):
            return part[1]
    return None


# ---- reading one mail (only after it is recorded)

def _values(headers: Message, name: str) -> list[str]:
    """A header's values, topmost first, as plain text whatever their encoding."""
    return [" ".join(str(v).split()) for v in headers.get_all(name) or ()]


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def _aligned(one: str, other: str) -> bool:
    """The same domain, or one under the other (relaxed alignment, as DMARC's, without
    the public-suffix list: the shorter needs two labels, so `com` aligns with nothing)."""
    if not one or not other:
        return False
    if one == other:
        return True
    short, long = sorted((one, other), key=len)
    return short.count(".") >= 1 and long.endswith("." + short)


def _results(header: str) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """An Authentication-Results header (RFC 8601): its authserv-id and each method's
    (method, result, properties)."""
    text = re.sub(r"\([^()]*\)", " ", header)  # comments
    parts = [p.strip() for p in text.split(";")]
    server = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    found = []
    for part in parts[1:]:
        words = part.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        props = {}
        for word in words[1:]:
            name, eq, value = word.partition("=")
            if eq:
                props[name.lower()] = value.strip('"').lower()
        found.append((method.lower().split("/")[0], result.lower(), props))
    return server, found


def authenticated(headers: Message, from_domain: str, authserv_id: str) -> bool:
    """Whether the topmost Authentication-Results written by `authserv_id` says the From
    domain passed DKIM, DMARC, or SPF aligned with it; any lower one is the sender's."""
    for header in _values(headers, "Authentication-Results"):
        server, results = _results(header)
        if server != authserv_id.lower():
            continue
        for method, result, props in results:
            if result != "pass":
                continue
            if method == "dkim":
                signer = props.get("header.d") or _domain(props.get("header.i", ""))
                if _aligned(signer, from_domain):
                    return True
            elif method == "dmarc":
                if _aligned(props.get("header.from", from_domain), from_domain):
                    return True
            elif method == "spf":
                if _aligned(_domain(props.get("smtp.mailfrom", "")), from_domain):
                    return True
        return False  # only the topmost one of that server counts
    return False


@dataclass(frozen=True)
class ReadMail:
    sender: str
    message_id: str
    refused: str | None
    attachments: tuple[Attachment, ...] = ()


def read_mail(mail: RawMail, senders: frozenset[str], authserv_id: str) -> ReadMail:
    """What a recorded mail says: who sent it, whether it is trusted, its exports. May
    raise on anything a mail can hold; the caller reports that."""
    headers = email.message_from_bytes(mail.raw, policy=email.policy.compat32)
    froms = _values(headers, "From")
    addresses = getaddresses(froms)
    sender = addresses[0][1].lower() if len(addresses) == 1 else ""
    ids = _values(headers, "Message-ID")
    message_id = ids[0].strip() if len(ids) == 1 else ""
    if message_id.strip("<> ") == "":
        message_id = ""
    if not sender or "@" not in sender:
        return ReadMail(froms[0][:200] if froms else "", message_id, "not_allowed")
    if sender not in senders:
        return ReadMail(sender, message_id, "not_allowed")  # SEARCH FROM matches parts
    if not authenticated(headers, _domain(sender), authserv_id):
        return ReadMail(sender, message_id, "unauthenticated")
    if mail.size > MAX_MAIL:
        return ReadMail(sender, message_id, "too_big")
    message = email.message_from_bytes(mail.raw, policy=email.policy.default)
    found = _attachments(message) if isinstance(message, EmailMessage) else ()
    return ReadMail(sender, message_id, None, found)


async def import_mail(services: Services, box: Mailbox, password: str,
                      senders: frozenset[str], on_report: MailSink, *,
                      authserv_id: str, cafile: str = "",
                      poll_seconds: float = POLL_TIMEOUT_SECONDS) -> int:
    """Import the exports of every new mail from `senders`; returns how many mails were
    new. A mailbox that cannot be reached, or a poll past `poll_seconds`, is logged and tried
    again next time."""
    async with services.transaction() as tx:
        records = await tx.open_chat.mail_records(MAIL_JOB)
        # Older mail holds nothing an import would take (it reads the last weeks only).
        since = (tx.now() - timedelta(weeks=tx.rules.kakao_import_weeks + 1)).date()
    connection = Connection(box, cafile)
    try:
        mails = await asyncio.wait_for(asyncio.to_thread(
            fetch_new_mail, connection, password, senders, frozenset(records), since),
            poll_seconds)
    except TimeoutError:
        connection.abandon()
        log.warning("mailbox %s: the poll took over %ss and was abandoned", box, poll_seconds)
        return 0
    except (imaplib.IMAP4.error, OSError) as exc:  # the server's words hold no password
        log.warning("mailbox %s could not be read: %s: %s", box, type(exc).__name__,
                    str(exc)[:200])
        return 0
    except Exception as exc:  # not the server's answer: a fault of ours
        log.exception("mailbox %s could not be read", box)
        services.faults.report("mail import", exc)
        return 0
    for mail in mails:
        await _one_mail(services, mail, senders, authserv_id, on_report)
    return len(mails)


async def _one_mail(services: Services, mail: RawMail, senders: frozenset[str],
                    authserv_id: str, on_report: MailSink) -> None:
    # Recorded before anything in it is read: whatever it holds, it is read once.
    async with services.transaction() as tx:
        if mail.key in await tx.open_chat.keys_seen(MAIL_JOB):
            return  # another instance took it meanwhile
        await tx.open_chat.remember_mail(MAIL_JOB, mail.key, "", [], status="running",
                                         uid=mail.uid)
    sender, files, status = "", [], "done"
    try:
        read = read_mail(mail, senders, authserv_id)
        sender = read.sender
        report = await _import(services, mail, read)
        files = [name for name, _ in report.files] if report else []
    except Exception:
        log.exception("mail UID %s could not be read", mail.uid)
        report, status = MailReport(sender, "malformed"), "failed"
    async with services.transaction() as tx:
        await tx.open_chat.remember_mail(MAIL_JOB, mail.key, sender, files, status=status,
                                         uid=mail.uid,
                                         refused=report.refused if report else "read_before")
    if report is None:
        return
    try:
        await on_report(report)
    except Exception:
        log.exception("the report of mail UID %s could not be sent", mail.uid)


async def _import(services: Services, mail: RawMail, read: ReadMail) -> MailReport | None:
    if read.refused:
        return MailReport(read.sender, read.refused)
    if read.message_id:
        id_key = _key(read.message_id)
        async with services.transaction() as tx:
            before = (await tx.open_chat.mail_records(MAIL_JOB)).get(id_key)
            if before is not None and before.get("mail") not in (None, mail.key):
                return MailReport(read.sender, "duplicate")
            # The Message-ID's record says which mail it was (mail read before UIDs were
            # recorded: the same mail, found again, not a duplicate).
            await tx.open_chat.remember_mail(MAIL_JOB, id_key, read.sender,
                                             [a.name for a in read.attachments],
                                             mail=mail.key)
            if before is not None:
                return None  # read and reported before UIDs were recorded: not again
    if not read.attachments:
        return MailReport(read.sender, "without_export")
    files: list[tuple[str, ImportReport | ExportUnreadable]] = []
    for attachment in read.attachments:
        told: list[ImportReport | ExportUnreadable] = []

        async def keep(_name: str, result: ImportReport | ExportUnreadable,
                       told: list[ImportReport | ExportUnreadable] = told) -> None:
            told.append(result)

        if not await import_export(services, content_key(attachment.data),
                                   f"{attachment.name} ({read.sender})", attachment.data,
                                   keep):
            told.append(ExportUnreadable("already_imported"))
        files += [(attachment.name, result) for result in told[:1]]
    return MailReport(read.sender, None, tuple(files))
