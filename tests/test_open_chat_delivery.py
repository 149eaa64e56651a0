"""How exports reach the bot and what their reports say: round-ups are reposts, the
watched folder reads each file once whatever became of it, and exports mailed to the
community's mailbox are imported once each (a real IMAP server, Debian's dovecot)."""

from __future__ import annotations

import email
import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.open_chat import delivered_report, mail_report
from jobs import open_chat_mail
from jobs.open_chat_folder import import_new_files
from jobs.open_chat_mail import MAIL_JOB, Mailbox, RawMail, import_mail, senders_from
from services.container import Services
from services.open_chat.chat_export import ExportUnreadable
from services.open_chat.importer import ImportReport, MailReport
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import JobRun, Member, Submission
from testkit.kakao_export_builder import ExportBuilder
from tests.support.open_chat import add_members as add_community

IMPORT_TIME = datetime(2025, 12, 19, 1, 0, tzinfo=UTC)  # Friday of 2025-W51, in Seoul
MEMBERS = ("hana.daily", "dy_lee", "seojun_p", "owner_id")
Result = ImportReport | ExportUnreadable


@pytest.fixture
def world(engine: AsyncEngine) -> Services:
    return Services(session_factory(engine), CommunityRules(), lambda: IMPORT_TIME)


async def add_members(world: Services) -> None:
    await add_community(world, MEMBERS)


async def handed_in(world: Services) -> dict[str, set[str]]:
    async with world.transaction() as tx:
        rows = await tx.session.execute(
            select(Member.instagram_username, Submission.shortcode)
            .join(Member, Member.id == Submission.member_id))
        found: dict[str, set[str]] = {}
        for name, code in rows.all():
            found.setdefault(name, set()).add(code)
        return found


def week_chat(layout: str = "android") -> ExportBuilder:
    """The week of W51: three members hand in, then the owner posts the round-up."""
    b = ExportBuilder(layout)
    b.message(datetime(2025, 12, 15, 9), "김하나 @hana.daily",
              "https://www.instagram.com/p/HANA00001/ 하나 (1/3)")
    b.message(datetime(2025, 12, 15, 10), "이도윤 / dy_lee",
              "https://www.instagram.com/p/DOYUN0001/\nhttps://www.instagram.com/p/HANA00001/")
    b.message(datetime(2025, 12, 16, 9), "박서준 @seojun_p",
              "https://www.instagram.com/p/SEOJUN001/ https://www.instagram.com/p/SEOJUN002/ "
              "https://www.instagram.com/p/SEOJUN003/")
    roundup = "\n".join(["12월 15일 ~ 12월 21일", "하나 1 / https://www.instagram.com/p/HANA00001/",
                         "도윤 1 / https://www.instagram.com/p/DOYUN0001/",
                         *[f"서준 {n} / https://www.instagram.com/p/SEOJUN00{n}/"
                           for n in (1, 2, 3)],
                         "민아 1 / https://www.instagram.com/p/MINA00001/"])
    b.message(datetime(2025, 12, 17, 22), "방장 @owner_id", roundup)
    for n in range(1, 5):
        b.message(datetime(2025, 12, 18, 8, n), "김하나 @hana.daily",
                  f"https://www.instagram.com/p/HANA0000{n + 1}/")
    return b


async def test_a_round_up_credits_nobody_and_reposts_are_not_over_quota(world: Services) -> None:
    await add_members(world)
    async with world.transaction() as tx:
        report = await tx.open_chat.import_file(week_chat().bytes(), "chat.txt", tx.now(), 2)
    assert await handed_in(world) == {
        "hana.daily": {"HANA00001", "HANA00002", "HANA00003"},
        "dy_lee": {"DOYUN0001"},
        "seojun_p": {"SEOJUN001", "SEOJUN002", "SEOJUN003"},  # exactly the maximum: theirs
    }
    reasons = [(u.nickname, u.link.rsplit("/", 2)[-2], u.reason) for u in report.unused]
    assert ("이도윤 / dy_lee", "HANA00001", "repost") in reasons
    assert [r for r in reasons if r[0] == "방장 @owner_id"] == [
        ("방장 @owner_id", code, "repost") for code in
        ("HANA00001", "DOYUN0001", "SEOJUN001", "SEOJUN002", "SEOJUN003", "MINA00001")]
    # Only the member's own fourth link is over the quota.
    assert [r for r in reasons if r[2] == "over_quota"] == [
        ("김하나 @hana.daily", "HANA00004", "over_quota"),
        ("김하나 @hana.daily", "HANA00005", "over_quota")]
    text = delivered_report("folder", "chat.txt", report, "ko")
    assert "안드로이드 내보내기" in text and "다시 올린 링크예요" in text


class Told:
    def __init__(self) -> None:
        self.items: list[tuple[str, Result]] = []

    async def __call__(self, name: str, result: Result) -> None:
        self.items.append((name, result))

    def reasons(self) -> list[tuple[str, str | int]]:
        return [(name, r.reason if isinstance(r, ExportUnreadable) else r.added)
                for name, r in self.items]


async def test_the_folder_tells_each_outcome_once_and_reads_a_fixed_file(
    world: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_members(world)
    told = Told()
    (tmp_path / "notes.txt").write_text("장보기 목록\n우유\n", encoding="utf-8")
    (tmp_path / "huge.txt").touch()
    os.truncate(tmp_path / "huge.txt", 50 * 1024 * 1024)  # 50 MB, never read
    assert await import_new_files(world, tmp_path, told) == 2
    assert sorted(told.reasons()) == [("huge.txt", "upload_too_big"), ("notes.txt", "no_messages")]
    huge_text = delivered_report("folder", "huge.txt", told.items[0][1], "ko")
    assert "20MB까지" in huge_text
    notes = next(r for n, r in told.items if n == "notes.txt")
    assert "장보기 목록" in delivered_report("folder", "notes.txt", notes, "ko")

    for _ in range(3):  # the next scans: nothing is read or told again
        assert await import_new_files(world, tmp_path, told) == 0
    assert len(told.items) == 2

    (tmp_path / "notes.txt").unlink()
    (tmp_path / "week51-fixed.txt").write_bytes(week_chat("iphone").bytes())
    assert await import_new_files(world, tmp_path, told) == 1
    assert told.reasons()[-1] == ("week51-fixed.txt", 7)

    # A fault of ours: recorded and told once, not retried at every scan.
    async def broken(*_args: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr("services.open_chat.importer.OpenChatImporter.import_once", broken)
    (tmp_path / "other.txt").write_bytes(week_chat("pc").bytes())
    assert await import_new_files(world, tmp_path, told) == 1
    assert await import_new_files(world, tmp_path, told) == 0
    assert told.reasons()[-1] == ("other.txt", "internal")
    async with world.transaction() as tx:
        runs = (await tx.session.scalars(select(JobRun.status).where(
            JobRun.job == "kakao_import_file"))).all()
    assert sorted(runs) == ["done", "failed", "failed", "failed"]


# ---- the mailbox: a real IMAP server

AUTHSERV = "mx.test"
GENUINE = f"{AUTHSERV}; dkim=pass header.d=example.org header.s=s1; spf=pass " \
          "smtp.mailfrom=example.org"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Imap:
    box: Mailbox  # plain IMAP on 127.0.0.1
    tls: Mailbox  # IMAPS by the certificate's name (localhost)
    tls_by_ip: Mailbox  # IMAPS by a name the certificate does not carry
    cafile: str  # the server's self-signed certificate
    password: str
    maildir: Path


def dovecot() -> str:
    """Dovecot's program; the test is skipped where it is not installed."""
    program = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(program):
        pytest.skip("dovecot is not installed (.ci/run installs dovecot-imapd)")
    return program


@pytest.fixture(scope="module")
def dovecot_stops() -> Iterator[list[tuple[subprocess.Popen[bytes], Path]]]:
    """A Dovecot takes seconds to stop: each test's server stops while the next tests
    run, and the module waits for every one of them (then removes its folder) at its
    end."""
    stops: list[tuple[subprocess.Popen[bytes], Path]] = []
    yield stops
    for stopping, root in stops:
        stopping.wait(timeout=120)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """A self-signed certificate for "localhost" and its key, made once for the module."""
    dovecot()  # without Dovecot, no certificate is needed
    folder = tmp_path_factory.mktemp("certificate")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    return (folder / "cert.pem").read_bytes(), (folder / "key.pem").read_bytes()


@pytest.fixture
def imap_server(dovecot_stops: list[tuple[subprocess.Popen[bytes], Path]],
                certificate: tuple[bytes, bytes]) -> Iterator[Imap]:
    """Dovecot on free local ports with one user, plain and TLS (a self-signed certificate
    for "localhost"); mail is delivered by writing into the user's Maildir, as a local MTA
    would. A fresh server (and mailbox) for each test."""
    server = dovecot()
    # Dovecot's own users read this folder: not under pytest's private (0700) one.
    root = Path(tempfile.mkdtemp(prefix="autogram-dovecot-"))
    os.chmod(root, 0o755)
    (root / "run").mkdir(parents=True)
    home = root / "home" / "exports"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (root / "cert.pem").write_bytes(certificate[0])
    (root / "key.pem").write_bytes(certificate[1])
    (root / "key.pem").chmod(0o600)
    port, tls_port, password = _free_port(), _free_port(), "mail-secret-1234"
    (root / "passwd").write_text(f"exports:{{PLAIN}}{password}\n")
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{maildir}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={home}
}}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
""")
    subprocess.run(["chown", "-R", "nobody:nogroup", str(home)], check=True)
    # Dovecot forks into the background: its output goes to a file, not a pipe we wait on.
    with open(root / "start.log", "wb") as out:
        started = subprocess.run([server, "-c", str(root / "dovecot.conf")], stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 check=False)
    assert started.returncode == 0, (root / "start.log").read_text()
    try:
        for check in (port, tls_port):
            for _ in range(100):
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", check)) == 0:
                        break
                time.sleep(0.05)
        yield Imap(Mailbox("127.0.0.1", port, "exports", "INBOX", tls=False),
                   Mailbox("localhost", tls_port, "exports", "INBOX", tls=True),
                   Mailbox("127.0.0.1", tls_port, "exports", "INBOX", tls=True),
                   str(root / "cert.pem"), password, maildir)
    finally:
        dovecot_stops.append((subprocess.Popen(
            [server, "-c", str(root / "dovecot.conf"), "stop"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL), root))


def deliver_raw(maildir: Path, raw: bytes) -> Path:
    path = maildir / "new" / f"{time.time_ns()}.{abs(hash(raw))}.test"
    path.write_bytes(raw)
    subprocess.run(["chown", "nobody:nogroup", str(path)], check=True)
    return path


def deliver(maildir: Path, sender: str, subject: str, files: dict[str, bytes],
            message_id: str, auth: tuple[str, ...] = (GENUINE,)) -> Path:
    """A mail as the receiving server stores it: its Authentication-Results on top
    (`auth`, topmost first; a sender's own would be lower down)."""
    mail = EmailMessage()
    for header in auth:
        mail["Authentication-Results"] = header
    mail["From"], mail["To"], mail["Subject"] = sender, "exports@example.org", subject
    mail["Message-ID"] = message_id
    mail.set_content("카카오톡 대화 내보내기")
    for name, data in files.items():
        mail.add_attachment(data, maintype="application", subtype="octet-stream",
                            filename=name)
    return deliver_raw(maildir, mail.as_bytes())


class MailTold:
    def __init__(self) -> None:
        self.items: list[MailReport] = []

    async def __call__(self, report: MailReport) -> None:
        self.items.append(report)

    def reasons(self) -> list[tuple[str, object]]:
        return [(r.sender, r.refused or [(n, x.reason if isinstance(x, ExportUnreadable)
                                          else x.added) for n, x in r.files])
                for r in self.items]


SENDERS = senders_from("Owner@Example.org, second.admin@example.org")


async def poll(world: Services, imap: Imap, told: MailTold, **options: object) -> int:
    options.setdefault("authserv_id", AUTHSERV)
    return await import_mail(world, options.pop("box", imap.box),  # type: ignore[arg-type]
                             str(options.pop("password", imap.password)), SENDERS, told,
                             **options)  # type: ignore[arg-type]


async def test_exports_mailed_by_an_admin_are_imported_once_and_strangers_left_alone(
    world: Services, imap_server: Imap, caplog: pytest.LogCaptureFixture,
) -> None:
    imap, maildir = imap_server, imap_server.maildir
    await add_members(world)
    told = MailTold()
    chat = week_chat("android")
    deliver(maildir, "방장 <owner@example.org>", "대화 내보내기",
            {"Kakaotalk_Chat_품앗이.zip": chat.zip(media=True)}, "<export-1@phone>")
    deliver(maildir, "someone@elsewhere.org", "spam",
            {"KakaoTalkChats.txt": chat.bytes()}, "<spam-1@elsewhere>")
    deliver(maildir, "not-owner@example.org.evil", "lookalike",
            {"KakaoTalkChats.txt": chat.bytes()}, "<spam-2@elsewhere>")

    assert await poll(world, imap, told) == 2
    assert told.reasons() == [("owner@example.org", [("Kakaotalk_Chat_품앗이.zip", 7)]),
                              ("not-owner@example.org.evil", "not_allowed")]
    text = mail_report(told.items[0], "ko")
    assert "owner@example.org" in text and "Kakaotalk_Chat_품앗이.zip" in text
    assert "허용된 보낸 사람" in mail_report(told.items[1], "ko")
    assert await poll(world, imap, told) == 0  # read once
    assert len(told.items) == 2

    deliver(maildir, "second.admin@example.org", "again",
            {"KakaoTalkChats.txt": chat.text(crlf=True, bom=True).encode(),
             "notes.txt": "장보기\n".encode()}, "<export-2@pc>")
    deliver(maildir, "owner@example.org", "no file", {}, "<export-3@phone>")
    deliver(maildir, "Owner@Example.org", "the same zip",
            {"Kakaotalk_Chat_품앗이.zip": chat.zip(media=True)}, "<export-4@phone>")
    assert await poll(world, imap, told) == 3
    assert told.reasons()[2:] == [
        ("second.admin@example.org", [("KakaoTalkChats.txt", 0), ("notes.txt", "no_messages")]),
        ("owner@example.org", "without_export"),
        ("owner@example.org", [("Kakaotalk_Chat_품앗이.zip", "already_imported")])]
    # Nothing was flagged on the server: every message is still unseen, none deleted.
    assert len(list((maildir / "new").iterdir())) + len(list((maildir / "cur").iterdir())) == 6
    assert imap.password not in caplog.text

    wrong = await poll(world, imap, told, password="wrong-password")
    assert wrong == 0 and imap.password not in caplog.text
    assert "wrong-password" not in caplog.text


async def test_malformed_mail_is_reported_once_and_the_next_export_imported(
    world: Services, imap_server: Imap, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_members(world)
    told, maildir = MailTold(), imap_server.maildir
    auth = f"Authentication-Results: {GENUINE}\r\n".encode()
    fuzzed = [
        b"From: owner@example.org\r\nMessage-ID: <>\r\nSubject: empty id\r\n\r\nhi\r\n",
        b"From: =?utf-8?q?=ff=fe?= <owner@example.org>\r\nMessage-ID: <<<>>>\x01\r\n"
        b"Subject: =?x-unknown?b?////?=\r\n\r\n\xff\xfe\r\n",
        b"From: owner@example.org\r\nFrom: evil@example.org\r\nMessage-ID: <a@b>\r\n\r\nx\r\n",
        b"From: \"owner@example.org\" <>\r\nMessage-ID: \r\n\r\nx\r\n",
        b"From: owner@example.org\r\nMessage-ID: <m@x>\r\nContent-Type: multipart/mixed\r\n"
        b"\r\n--nothing\r\n\r\n",
        b"From: owner@example.org\r\nMessage-ID: <boom@x>\r\nX-Boom: 1\r\n\r\nx\r\n",
        b"From: owner@example.org\r\nMessage-ID: <long@x>\r\nX-Long: " + b"(\x00" * 5000
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!\r\n",
    ]
    for raw in fuzzed:
        deliver_raw(maildir, auth + raw)
    deliver(maildir, "owner@example.org", "export", {"KakaoTalkChats.txt":
                                                     week_chat().bytes()}, "<real@phone>")
    real_read = open_chat_mail.read_mail

    def exploding(mail: RawMail, *args: object) -> object:
        if b"X-Boom" in mail.raw:
            raise ValueError("a header nothing could read")
        return real_read(mail, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(open_chat_mail, "read_mail", exploding)
    assert await poll(world, imap_server, told) == len(fuzzed) + 1
    assert len(told.items) == len(fuzzed) + 1
    assert ("", "malformed") in told.reasons() or ("owner@example.org", "malformed") in \
        told.reasons()
    assert told.reasons()[-1] == ("owner@example.org", [("KakaoTalkChats.txt", 7)])
    for report in told.items:  # each renders in both languages
        assert mail_report(report, "ko") and mail_report(report, "en")
    assert await poll(world, imap_server, told) == 0
    assert len(told.items) == len(fuzzed) + 1
    async with world.transaction() as tx:
        statuses = (await tx.session.scalars(select(JobRun.status).where(
            JobRun.job == MAIL_JOB, JobRun.period.like("uid:%")))).all()
    assert len(statuses) == len(fuzzed) + 1 and "running" not in statuses


async def test_a_mail_expunged_meanwhile_or_a_stalled_server_does_not_hang_the_poll(
    world: Services, imap_server: Imap, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_members(world)
    told, maildir = MailTold(), imap_server.maildir
    gone = deliver(maildir, "owner@example.org", "gone", {"a.txt": b"x"}, "<gone@x>")
    real_uid = imaplib.IMAP4.uid

    def expunging(self: imaplib.IMAP4, command: str, *args: str) -> object:
        if command == "FETCH" and "BODY.PEEK[]" in args[-1] and gone.exists():
            gone.unlink()  # another client expunged it between the two fetches
            other = imaplib.IMAP4(imap_server.box.host, imap_server.box.port)
            other.login("exports", imap_server.password)
            other.select("INBOX")
            other.noop()
            other.logout()
        return real_uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", expunging)
    started = time.monotonic()
    assert await poll(world, imap_server, told, poll_seconds=10) == 0
    assert time.monotonic() - started < 10 and told.items == []

    # A server that stops answering mid-poll: abandoned at the deadline.
    deliver(maildir, "owner@example.org", "export", {"KakaoTalkChats.txt":
                                                     week_chat().bytes()}, "<real@phone>")

    def stalled(self: imaplib.IMAP4, command: str, *args: str) -> object:
        if command == "FETCH":
            self._get_line()  # type: ignore[attr-defined]  # waits for a line never sent
        return real_uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", stalled)
    started = time.monotonic()
    assert await poll(world, imap_server, told, poll_seconds=2) == 0
    assert time.monotonic() - started < 5
    monkeypatch.setattr(imaplib.IMAP4, "uid", real_uid)
    assert await poll(world, imap_server, told, poll_seconds=10) == 1  # the next poll runs
    assert told.reasons() == [("owner@example.org", [("KakaoTalkChats.txt", 7)])]


async def test_only_the_receiving_servers_verdict_on_the_sender_counts(
    world: Services, imap_server: Imap,
) -> None:
    await add_members(world)
    told, maildir, chat = MailTold(), imap_server.maildir, week_chat()
    files = {"KakaoTalkChats.txt": chat.bytes()}
    deliver(maildir, "owner@example.org", "forged", files, "<f1@x>",
            auth=(f"{AUTHSERV}; dkim=fail header.d=example.org; spf=fail "
                  "smtp.mailfrom=evil.org; dmarc=fail header.from=example.org",))
    deliver(maildir, "owner@example.org", "no header", files, "<f2@x>", auth=())
    deliver(maildir, "owner@example.org", "fake below", files, "<f3@x>",
            auth=(f"{AUTHSERV}; dkim=none; spf=softfail smtp.mailfrom=evil.org",
                  GENUINE))
    deliver(maildir, "owner@example.org", "other server", files, "<f4@x>",
            auth=("mx.evil.example; dkim=pass header.d=example.org",))
    deliver(maildir, "owner@example.org", "signed by another domain", files, "<f5@x>",
            auth=(f"{AUTHSERV}; dkim=pass header.d=evil.org; spf=pass "
                  "smtp.mailfrom=evil.org",))
    assert await poll(world, imap_server, told) == 5
    assert told.reasons() == [("owner@example.org", "unauthenticated")] * 5
    assert "위조" in mail_report(told.items[0], "ko")
    assert "forged or unauthenticated" in mail_report(told.items[0], "en")
    assert await handed_in(world) == {}

    deliver(maildir, "owner@example.org", "genuine", files, "<g1@x>",
            auth=(f"{AUTHSERV} 1; dkim=pass (good signature) header.i=@example.org",
                  "mx.evil.example; dkim=fail"))
    assert await poll(world, imap_server, told) == 1
    assert told.reasons()[-1] == ("owner@example.org", [("KakaoTalkChats.txt", 7)])
    assert await poll(world, imap_server, told) == 0 and len(told.items) == 6


@pytest.mark.parametrize(("results", "passes"), [
    ("mx.test; dkim=pass header.d=example.org", True),
    ("mx.test; dkim=pass header.d=mail.example.org", True),
    ("mx.test; dkim=pass header.d=org", False),
    ("mx.test; dkim=pass header.d=example.org.evil", False),
    ("mx.test; dmarc=pass header.from=example.org", True),
    ("mx.test; dmarc=pass header.from=evil.org", False),
    ("mx.test; spf=pass smtp.mailfrom=bounce@example.org", True),
    ("mx.test; spf=pass smtp.mailfrom=evil.org", False),
    ("MX.TEST; DKIM=PASS header.d=Example.ORG", True),
    ("mx.test.evil; dkim=pass header.d=example.org", False),
    ("mx.test", False),
    (";;;==;", False),
])
def test_authentication_results_are_read_as_the_rfc_says(results: str, passes: bool) -> None:
    headers = email.message_from_bytes(
        f"Authentication-Results: {results}\r\nFrom: owner@example.org\r\n\r\n".encode())
    assert open_chat_mail.authenticated(headers, "example.org", "mx.test") is passes


async def test_the_mailbox_certificate_is_verified_before_any_password_is_sent(
    world: Services, imap_server: Imap, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await add_members(world)
    told, maildir = MailTold(), imap_server.maildir
    deliver(maildir, "owner@example.org", "export", {"KakaoTalkChats.txt":
                                                     week_chat().bytes()}, "<real@phone>")
    logins: list[str] = []
    real_login = imaplib.IMAP4.login

    def counted(self: imaplib.IMAP4, user: str, password: str) -> object:
        logins.append(user)
        return real_login(self, user, password)

    monkeypatch.setattr(imaplib.IMAP4, "login", counted)
    # A self-signed certificate without the CA setting, or the right CA but another name.
    assert await poll(world, imap_server, told, box=imap_server.tls) == 0
    assert await poll(world, imap_server, told, box=imap_server.tls_by_ip,
                      cafile=imap_server.cafile) == 0
    assert logins == [] and told.items == []
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert imap_server.password not in caplog.text
    assert await poll(world, imap_server, told, box=imap_server.tls,
                      cafile=imap_server.cafile) == 1
    assert logins == ["exports"]
    assert told.reasons() == [("owner@example.org", [("KakaoTalkChats.txt", 7)])]


async def test_a_repeated_message_id_is_reported_once_and_a_mail_gives_one_report(
    world: Services, imap_server: Imap,
) -> None:
    await add_members(world)
    told, maildir = MailTold(), imap_server.maildir
    deliver(maildir, "owner@example.org", "export", {"KakaoTalkChats.txt":
                                                     week_chat().bytes()}, "<same@phone>")
    deliver(maildir, "owner@example.org", "resent", {"other.txt": b"x"}, "<same@phone>")
    files = {f"notes-{n:02d}.txt": f"메모 {n}\n".encode() for n in range(50)}
    deliver(maildir, "owner@example.org", "many", files, "<many@phone>")
    assert await poll(world, imap_server, told) == 3
    assert [r for _, r in told.reasons()][:2] == [[("KakaoTalkChats.txt", 7)], "duplicate"]
    assert "Message-ID" in mail_report(told.items[1], "en")
    many = told.items[2]
    assert [name for name, _ in many.files] == sorted(files)
    text = mail_report(many, "ko")
    assert all(name in text for name in files) and text.count("✉️") == 1
    assert await poll(world, imap_server, told) == 0 and len(told.items) == 3


async def test_mail_read_before_uids_were_recorded_is_not_reported_again(
    world: Services, imap_server: Imap,
) -> None:
    await add_members(world)
    told = MailTold()
    deliver(imap_server.maildir, "owner@example.org", "old", {"KakaoTalkChats.txt":
                                                              week_chat().bytes()}, "<old@x>")
    async with world.transaction() as tx:  # as the mail job recorded it before
        await tx.open_chat.remember_mail(MAIL_JOB, open_chat_mail._key("<old@x>"),
                                         "owner@example.org", ["KakaoTalkChats.txt"])
    assert await poll(world, imap_server, told) == 1
    assert told.items == [] and await handed_in(world) == {}
    assert await poll(world, imap_server, told) == 0 and told.items == []
