"""A chat export is read within bounds: a ZIP bomb and a 50 MB file are refused naming
the limit, a 20 MB export is read without the process growing past a bound, and the
people who send files are told what they need to hear."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from handlers.dispatcher import Dispatcher
from services.container import Services
from services.open_chat import chat_export as kakao_export
from services.open_chat.chat_export import ExportUnreadable, read_chat_export
from testkit.kakao_export_builder import ExportBuilder
from tests.support.chat_driver import Person
from tests.support.members import make_admin
from tests.support.telegram import big_android_export

SEOUL = ZoneInfo("Asia/Seoul")
ROOT = Path(__file__).resolve().parent.parent
PEAK = ("peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
        "print(peak[0].split()[1])")


def _peak_kb(script: str) -> tuple[str, int]:
    """Run `script` in a fresh interpreter; its output and its own peak memory (VmHWM)."""
    done = subprocess.run([sys.executable, "-c", f"{script}; {PEAK}"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    *out, peak = done.stdout.split("\n")[:-1]
    return "\n".join(out), int(peak)


def _bomb(path: Path) -> None:
    """A ZIP of about 1 MB whose chat unpacks to 200 MB of valid lines."""
    line = "2025. 12. 15. 오전 9:45, 김하나 @hana.daily : 오늘도 화이팅\n".encode() * 4000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("Kakaotalk_Chat/KakaoTalkChats.txt", "w") as out:
        for _ in range(200 * 1024 * 1024 // len(line)):
            out.write(line)


def test_a_zip_bomb_is_refused_naming_the_limit_within_a_memory_bound(tmp_path: Path) -> None:
    _bomb(tmp_path / "bomb.zip")
    assert (tmp_path / "bomb.zip").stat().st_size < 2 * 1024 * 1024
    out, peak_kb = _peak_kb(
        "from zoneinfo import ZoneInfo\n"
        "from services.open_chat.chat_export import read_chat_export, "
        "ExportUnreadable\ntry:\n    read_chat_export(open("
        f"{str(tmp_path / 'bomb.zip')!r}, 'rb').read(), 'bomb.zip', ZoneInfo('Asia/Seoul'))\n"
        "except ExportUnreadable as e:\n    print(e.reason, e.limit)")
    assert out == f"text_too_big {kakao_export.MAX_TEXT // 2**20}"
    assert peak_kb < 250 * 1024  # what the limit lets in, never the 200 MB


def test_a_50_mb_file_is_refused_before_it_is_read() -> None:
    with pytest.raises(ExportUnreadable) as refused:
        read_chat_export(b"2025. 12. 15. " * (50 * 1024 * 1024 // 14), "big.txt", SEOUL)
    assert (refused.value.reason, refused.value.limit) == ("upload_too_big", 20)


def test_a_20_mb_export_is_read_within_a_memory_bound(tmp_path: Path) -> None:
    data = big_android_export(kakao_export.MAX_UPLOAD - 1000, date(2026, 11, 24))
    (tmp_path / "chat.txt").write_bytes(data)
    out, peak_kb = _peak_kb(
        "from zoneinfo import ZoneInfo; from services.open_chat.importer import read_digest; "
        f"d = read_digest(open({str(tmp_path / 'chat.txt')!r}, 'rb').read(), 'chat.txt', "
        "ZoneInfo('Asia/Seoul'), None); print(d.messages, len(d.with_links))")
    messages, with_links = map(int, out.split())
    assert messages > 90_000 and with_links == messages  # every message has a link
    assert peak_kb < 400 * 1024  # measured about 210 MB: the text, its messages, the digest


async def test_who_sends_a_chat_export_is_told_what_they_need(
    dispatcher: Dispatcher, services: Services,
) -> None:
    chat = ExportBuilder("android")
    chat.message(datetime(2026, 11, 23, 9), "김하나 @hana.daily",
                 "https://www.instagram.com/p/HANA00001/")
    stranger = Person(dispatcher, "stranger", platform="telegram")
    await stranger.send_file("Kakaotalk_Chat_품앗이.zip", chat.zip(media=True))
    assert "관리자가 보낸 카카오톡 대화 내보내기만" in stranger.text
    assert "팔로" not in stranger.text  # not told the ZIP has no follower lists
    await stranger.send_file("KakaoTalk_Chat.csv", ExportBuilder("mac").bytes())
    assert "관리자가 보낸 카카오톡 대화 내보내기만" in stranger.text

    boss = Person(dispatcher, "boss", platform="telegram")
    await make_admin(services, boss)
    await boss.send_file("Kakaotalk_Chat_품앗이.zip", chat.zip(media=True))
    assert "안드로이드 내보내기" in boss.text


def test_a_zip_with_only_photos_is_explained() -> None:
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w") as archive:
        archive.writestr("Kakaotalk_Chat/1.jpg", b"\xff\xd8")
    with pytest.raises(ExportUnreadable) as refused:
        read_chat_export(photos.getvalue(), "chat.zip", SEOUL)
    assert refused.value.reason == "zip_without_text"
