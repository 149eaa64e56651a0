"""A stranger's upload is read off the event loop within limits: a ZIP bomb, a huge
list, too many entries or too many bytes are refused naming the limit, memory stays
bounded, and other people are answered while a big file is read."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from handlers.dispatcher import Dispatcher
from services.unfollow import instagram_export as export
from services.unfollow.instagram_export import ExportProblem, read_export
from testkit.instagram_export_builder import export_zip, html
from tests.support.chat_driver import Person


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def bomb() -> bytes:
    """A few hundred KB that unpack to far more than the limit (a followers HTML of
    repeated rows)."""
    buffer = io.BytesIO()
    row = b'<div><a href="https://www.instagram.com/someone">someone</a></div>\n' * 1000
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("connections/followers_and_following/followers_1.html", "w") as out:
        for _ in range(3000):  # ~200 MB unpacked
            out.write(row)
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_naming_the_limit_within_a_memory_bound() -> None:
    data = bomb()
    assert len(data) < 2 * 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ExportProblem) as refused:
            read_export("export.zip", data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.reason in ("file_too_big", "unzipped_too_big")
    assert refused.value.limit in (export.MAX_FILE // 2**20, export.MAX_UNZIPPED // 2**20)
    assert peak < 120 * 1024 * 1024  # pieces at a time, never the whole file


def test_a_big_real_export_is_read_within_300_mb(tmp_path: Path) -> None:
    names = [f"follower.account.{n:06d}" for n in range(99_000)]
    path = tmp_path / "instagram.zip"
    folder = "connections/followers_and_following"
    path.write_bytes(zipped({f"{folder}/followers_1.html": html("Followers", names),
                             f"{folder}/following.html": html("Following", names[:7_500])}))
    assert path.stat().st_size < export.MAX_UPLOAD
    # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's over).
    script = (
        "from services.unfollow.instagram_export import read_export; "
        f"lists = read_export('instagram.zip', open({str(path)!r}, 'rb').read()); "
        "peak = [line for line in open('/proc/self/status') if line.startswith('VmHWM')]; "
        "print(len(lists.followers), peak[0].split()[1])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    followers, peak_kb = map(int, done.stdout.split())
    assert followers == 99_000 and peak_kb < 300 * 1024


def test_too_many_accounts_entries_or_bytes_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(export, "MAX_ACCOUNTS", 1000)
    many = [f"fan{n}" for n in range(1001)]
    for name, data in (("followers_1.html", html("Followers", many)),
                       ("export.zip", export_zip(many, many[:10]))):
        with pytest.raises(ExportProblem) as refused:
            read_export(name, data)
        assert (refused.value.reason, refused.value.limit) == ("too_many_accounts", 1000)
    entries = zipped({f"media/{n}.txt": b"x" for n in range(export.MAX_ENTRIES + 1)})
    with pytest.raises(ExportProblem) as refused:
        read_export("export.zip", entries)
    assert refused.value.reason == "too_many_entries"
    with pytest.raises(ExportProblem) as refused:
        read_export("export.zip", b"PK" + b"\0" * (export.MAX_UPLOAD + 1))
    assert (refused.value.reason, refused.value.limit) == ("upload_too_big", 20)


async def test_the_person_is_told_which_limit(dispatcher: Dispatcher) -> None:
    person = Person(dispatcher, "uploader", platform="telegram")
    await person.send_file("instagram.zip", bomb())
    assert "MB까지" in person.text and "처리 중 문제" not in person.text


async def test_others_are_answered_while_a_big_file_is_read(dispatcher: Dispatcher) -> None:
    following = [f"account.{n:05d}" for n in range(60_000)]
    big = export_zip(following[:30_000], following, kind="html")
    uploader = Person(dispatcher, "uploader", platform="telegram")
    upload = asyncio.create_task(uploader.send_file("instagram.zip", big))
    await asyncio.sleep(0.05)  # the upload is being read in its worker thread
    others = [Person(dispatcher, f"user-{n}", platform="kakao") for n in range(3)]
    answers = await asyncio.gather(*(p.say("/help") for p in others))
    assert not upload.done()
    assert all(a and a[0].text for a in answers)
    await upload
    assert "팔로워 30000명 팔로잉 60000명" in uploader.text.replace(",", "")
