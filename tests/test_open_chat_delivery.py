"""How exports reach the bot and what their reports say: round-ups are reposts, the
watched folder reads each file once whatever became of it, and exports mailed to the
community's mailbox are imported once each (a real IMAP server, Debian's dovecot)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.open_chat import delivered_report
from jobs.open_chat_folder import import_new_files
from jobs.open_chat_mail import MAIL_JOB, Mailbox, import_mail, senders_from
from services.container import Services
from services.kakao_export import ExportUnreadable
from services.open_chat_import import ImportReport
from services.rules import CommunityRules
from storage.db import session_factory
from storage.models import JobRun, Member, Submission
from tests.kakao_export_builder import ExportBuilder
from tests.test_open_chat_import import add_members as add_community

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

    monkeypatch.setattr("services.open_chat_import.OpenChatImporter.import_once", broken)
    (tmp_path / "other.txt").write_bytes(week_chat("pc").bytes())
    assert await import_new_files(world, tmp_path, told) == 1
    assert await import_new_files(world, tmp_path, told) == 0
    assert told.reasons()[-1] == ("other.txt", "internal")
    async with world.transaction() as tx:
        runs = (await tx.session.scalars(select(JobRun.status).where(
            JobRun.job == "kakao_import_file"))).all()
    assert sorted(runs) == ["done", "failed", "failed", "failed"]


# ---- the mailbox: a real IMAP server

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def imap_server() -> Iterator[tuple[Mailbox, str, Path]]:
    """Dovecot on a free local port with one user; yields the mailbox, its password and
    the user's Maildir (mail is delivered by writing into it, as a local MTA would)."""
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(dovecot):
        pytest.skip("dovecot is not installed (.ci/run installs dovecot-imapd)")
    # Dovecot's own users read this folder: not under pytest's private (0700) one.
    root = Path(tempfile.mkdtemp(prefix="autogram-dovecot-"))
    os.chmod(root, 0o755)
    (root / "run").mkdir(parents=True)
    home = root / "home" / "exports"
    maildir = home / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    port, password = _free_port(), "mail-secret-1234"
    (root / "passwd").write_text(f"exports:{{PLAIN}}{password}\n")
    (root / "dovecot.conf").write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
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
    port = 0
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
        started = subprocess.run([dovecot, "-c", str(root / "dovecot.conf")], stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 check=False)
    assert started.returncode == 0, (root / "start.log").read_text()
    try:
        for _ in range(100):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield (Mailbox("127.0.0.1", port, "exports", "INBOX", tls=False), password, maildir)
    finally:
        subprocess.run([dovecot, "-c", str(root / "dovecot.conf"), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(root, ignore_errors=True)


def deliver(maildir: Path, sender: str, subject: str, files: dict[str, bytes],
            message_id: str) -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "exports@example.org", subject
    mail["Message-ID"] = message_id
    mail.set_content("카카오톡 대화 내보내기")
    for name, data in files.items():
        mail.add_attachment(data, maintype="application", subtype="octet-stream",
                            filename=name)
    path = maildir / "new" / f"{time.time_ns()}.{abs(hash(message_id))}.test"
    path.write_bytes(mail.as_bytes())
    subprocess.run(["chown", "nobody:nogroup", str(path)], check=True)


async def test_exports_mailed_by_an_admin_are_imported_once_and_strangers_left_alone(
    world: Services, imap_server: tuple[Mailbox, str, Path], caplog: pytest.LogCaptureFixture,
) -> None:
    box, password, maildir = imap_server
    await add_members(world)
    senders = senders_from("Owner@Example.org, second.admin@example.org")
    told = Told()
    chat = week_chat("android")
    deliver(maildir, "방장 <owner@example.org>", "대화 내보내기",
            {"Kakaotalk_Chat_품앗이.zip": chat.zip(media=True)}, "<export-1@phone>")
    deliver(maildir, "someone@elsewhere.org", "spam",
            {"KakaoTalkChats.txt": chat.bytes()}, "<spam-1@elsewhere>")
    deliver(maildir, "not-owner@example.org.evil", "lookalike",
            {"KakaoTalkChats.txt": chat.bytes()}, "<spam-2@elsewhere>")

    assert await import_mail(world, box, password, senders, told) == 1
    assert told.reasons() == [("Kakaotalk_Chat_품앗이.zip (owner@example.org)", 7)]
    assert await import_mail(world, box, password, senders, told) == 0  # read once
    assert len(told.items) == 1

    deliver(maildir, "second.admin@example.org", "again",
            {"KakaoTalkChats.txt": chat.text(crlf=True, bom=True).encode(),
             "notes.txt": "장보기\n".encode()}, "<export-2@pc>")
    deliver(maildir, "owner@example.org", "no file", {}, "<export-3@phone>")
    deliver(maildir, "Owner@Example.org", "the same zip",
            {"Kakaotalk_Chat_품앗이.zip": chat.zip(media=True)}, "<export-4@phone>")
    assert await import_mail(world, box, password, senders, told) == 3
    assert told.reasons()[1:] == [
        ("KakaoTalkChats.txt (second.admin@example.org)", 0),  # the same week: nothing new
        ("notes.txt (second.admin@example.org)", "no_messages"),
        ("owner@example.org", "mail_without_export"),
        ("Kakaotalk_Chat_품앗이.zip (owner@example.org)", "already_imported")]
    async with world.transaction() as tx:
        mails = (await tx.session.scalars(select(JobRun.id).where(JobRun.job == MAIL_JOB))).all()
    assert len(mails) == 4  # the strangers' mail is not even recorded
    # Nothing was flagged on the server: every message is still unseen, none deleted.
    assert len(list((maildir / "new").iterdir())) + len(list((maildir / "cur").iterdir())) == 6
    assert password not in caplog.text

    wrong = await import_mail(world, box, "wrong-password", senders, told)
    assert wrong == 0 and password not in caplog.text and "wrong-password" not in caplog.text
