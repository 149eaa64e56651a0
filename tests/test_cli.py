"""The operator's commands, run as the operator runs them: the `autogram` console script."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.cli import AUTOGRAM, ROOT


def run(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_",
                                                                            "DATABASE_URL"))}
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run([*AUTOGRAM, *args], cwd=cwd, input=stdin, capture_output=True,
                          text=True, env=environment, timeout=120)


def test_keygen_prints_a_usable_key(tmp_path: Path) -> None:
    key = run(["keygen"], tmp_path).stdout.strip()
    Fernet(key.encode())


def test_run_refuses_a_database_that_is_behind(tmp_path: Path) -> None:
    result = run(["run"], tmp_path, WEB_PORT="0")
    assert result.returncode != 0
    assert "run `autogram migrate` first" in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "autogram.sqlite3").exists()  # no empty database left behind


def test_cli_problems_are_one_line_naming_the_fix(tmp_path: Path) -> None:
    key = run(["keygen"], tmp_path).stdout.strip()
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'bot.sqlite3'}"
    checks = [
        (["migrate"], {"DATABASE_URL": missing}, "does not exist"),
        (["rotate-keys"], {"ENCRYPTION_KEYS": key}, "autogram migrate"),
        (["admin", "add", "boss"], {}, "autogram migrate"),
        (["import-kakao", str(tmp_path)], {}, "autogram migrate"),
        (["import-kakao", "x.txt", "--weeks", "0"], {}, "from 1 to 520"),
        (["import-kakao", "x.txt", "--weeks", "-3"], {}, "from 1 to 520"),
    ]
    for args, env, expected in checks:
        result = run(args, tmp_path, **env)
        assert result.returncode != 0 and expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    assert not list(tmp_path.glob("*.sqlite3")) and not (tmp_path / "nowhere").exists()
    assert run(["migrate"], tmp_path).returncode == 0
    folder = run(["import-kakao", str(tmp_path)], tmp_path)
    assert "is a folder" in folder.stderr
    listed = run(["--help"], tmp_path).stdout
    assert all(name in listed for name in ("run", "chat", "migrate", "keygen", "rotate-keys",
                                           "import-kakao", "admin"))


def test_wrong_settings_stop_with_the_fix(tmp_path: Path) -> None:
    result = run(["migrate"], tmp_path, TIMEZONE="Nowhere/Land")
    assert result.returncode != 0
    assert "TIMEZONE: unknown time zone" in result.stderr


def test_console_chat_is_scriptable_through_a_pipe(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    result = run(["chat", "--as", "kim"], tmp_path, stdin="/help\n/lang\n2\n/help\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "bot> 쓸 수 있는 명령:" in out
    assert "[1] 한국어" in out and "[2] English" in out
    assert "bot> I will speak English from now on." in out
    assert "bot> What you can do:" in out


def test_admin_add_then_claim_in_the_console(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    added = run(["admin", "add", "운영자"], tmp_path)
    claim = next(line.strip() for line in added.stdout.splitlines() if "/claim" in line)
    result = run(["chat", "--as", "boss"], tmp_path, stdin=f"{claim}\n/help\n")
    assert "관리자로 등록됐어요" in result.stdout and "/adduser" in result.stdout


def test_rotate_keys_from_the_cli(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    assert run(["migrate"], tmp_path, ENCRYPTION_KEYS=old).returncode == 0
    added = run(["admin", "add", "boss"], tmp_path, ENCRYPTION_KEYS=old)
    claim = next(line.strip() for line in added.stdout.splitlines() if "/claim" in line)
    run(["chat", "--as", "boss"], tmp_path, ENCRYPTION_KEYS=old,
        stdin=f"{claim}\n/addhelper\nhelper.one\nsecret-pw\n")
    rotated = run(["rotate-keys"], tmp_path, ENCRYPTION_KEYS=f"{new},{old}")
    assert "Re-encrypted 1 stored secrets" in rotated.stdout
    listed = run(["chat", "--as", "boss"], tmp_path, ENCRYPTION_KEYS=new, stdin="/helpers\n")
    assert "@helper.one" in listed.stdout
    assert b"secret-pw" not in (tmp_path / "autogram.sqlite3").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_run_without_a_token_serves_health_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    # The database holds encrypted passwords and everyone's data: its owner's only.
    assert (tmp_path / "autogram.sqlite3").stat().st_mode & 0o777 == 0o600
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(PYTHONPATH=str(ROOT), WEB_PORT=str(port))
    process = subprocess.Popen([*AUTOGRAM, "run"], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                    body = response.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert '"status": "ok"' in body and '"database": "ok"' in body
        assert '"helpers": "none registered: the weekly check cannot run' in body
        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert "Telegram: off. To enable it, put TELEGRAM_TOKEN" in output
    assert "autogram chat" in output and "Stopped." in output
    assert "No Instagram helper account is registered: the weekly check cannot " \
        "run until an admin adds one with /addhelper." in output
    assert "WEB_PUBLIC_URL is not set" in output and "open in browser" in output


def test_import_kakao_from_the_cli(tmp_path: Path) -> None:
    from datetime import datetime

    from testkit.kakao_export_builder import ExportBuilder

    assert run(["migrate"], tmp_path).returncode == 0
    added = run(["chat", "--as", "boss"], tmp_path, stdin="/help\n")
    assert added.returncode == 0
    export = ExportBuilder("pc")
    export.message(datetime(2025, 12, 15, 9, 0), "김하나 @hana.daily",
                   "https://www.instagram.com/p/CLIPOST01/")
    (tmp_path / "chat.txt").write_bytes(export.bytes())
    first = run(["import-kakao", "chat.txt"], tmp_path)
    assert first.returncode == 0, first.stderr
    assert "PC 내보내기" in first.stdout
    assert "닉네임의 인스타그램 아이디가 멤버 목록에 없어요" in first.stdout
    english = run(["import-kakao", "chat.txt", "--lang", "en"], tmp_path)
    assert "1 link not used" in english.stdout
    (tmp_path / "empty.txt").write_bytes(b"")
    empty = run(["import-kakao", "empty.txt"], tmp_path)
    assert empty.returncode != 0 and "파일을 읽을 수 없어요" in empty.stderr


def test_run_imports_new_exports_from_the_watched_folder(tmp_path: Path) -> None:
    import sqlite3
    from datetime import datetime

    from testkit.kakao_export_builder import ExportBuilder

    assert run(["migrate"], tmp_path).returncode == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    export = ExportBuilder("iphone")
    export.message(datetime(2025, 12, 15, 9, 0), "김하나 @hana.daily",
                   "https://www.instagram.com/p/FOLDER001/")
    (inbox / "Talk_2025.12.22.txt").write_bytes(export.bytes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(PYTHONPATH=str(ROOT), WEB_PORT=str(free_port()), KAKAO_IMPORT_FOLDER=str(inbox),
               KAKAO_IMPORT_INTERVAL_SECONDS="1")
    process = subprocess.Popen([*AUTOGRAM, "run"], cwd=tmp_path, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        runs: list[tuple[str, str]] = []
        for _ in range(100):
            with sqlite3.connect(tmp_path / "autogram.sqlite3") as db:
                runs = db.execute(
                    "SELECT job, status FROM job_run WHERE job LIKE 'kakao%'").fetchall()
            if runs:
                break
            time.sleep(0.1)
        time.sleep(1.5)  # a second scan of the folder must not import the file again
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert runs == [("kakao_import_file", "done")]
    assert output.count("imported Talk_2025.12.22.txt") == 1


def test_the_demo_walks_the_weekly_loop(tmp_path: Path) -> None:
    temp = {"XDG_DATA_HOME": str(tmp_path)}  # the demo's throw-away database lives here
    listed = run(["chat", "--demo"], tmp_path, **temp)
    assert listed.returncode == 0, listed.stderr
    assert "admin:   admin" in listed.stdout and "minji (2)" in listed.stdout
    assert str(tmp_path / "autogram" / "demo") in listed.stdout  # one per user, said where
    assert (tmp_path / "autogram" / "demo" / "demo.sqlite3").exists()
    member = run(["chat", "--demo", "--as", "minji"], tmp_path, stdin="내 현황\n1\n결과\n", **temp)
    assert "⏳ @jisoo" in member.stdout  # not checked yet
    assert "🔄 방금 인스타그램에서 확인했어요." in member.stdout
    after_check = member.stdout.split("방금 인스타그램에서 확인했어요.")[1]
    todo = after_check.split("내 제출")[0]
    assert todo.count("✅ @") + todo.count("❌ @") == 8 and "⏳ @" not in todo
    assert "📊 지난주" in member.stdout  # last week was checked when the demo was made
    from zoneinfo import ZoneInfo

    from services.week.calendar import Week
    from storage.models import utcnow

    label = Week.containing(utcnow(), ZoneInfo("Asia/Seoul")).label
    admin = run(["chat", "--demo", "--as", "admin"], tmp_path,
                stdin=f"/verify\n/results {label}\n", **temp)
    assert "… 🔎 인스타그램 확인 중: 게시물 10개 중 10개…" in admin.stdout
    assert "✅ 확인을 마쳤어요." in admin.stdout and "판정: ✅" in admin.stdout
    # The week is still open: an interim standing, nobody is listed as not handing in.
    assert "중간 현황 (아직 끝나지 않은 주예요)" in admin.stdout
    assert "댓글 품앗이 결과" not in admin.stdout and "제출하지 않은 멤버" not in admin.stdout
    nobody = run(["chat", "--demo", "--as", "stranger"], tmp_path, **temp)
    assert nobody.returncode != 0 and "Choose one of: admin, doyun" in nobody.stderr


def test_the_demo_takes_a_share_link_and_refuses_someone_elses_post(tmp_path: Path) -> None:
    from bot.demo import OTHERS_LINK, SHARE_LINK

    temp = {"XDG_DATA_HOME": str(tmp_path)}
    assert run(["chat", "--demo"], tmp_path, **temp).returncode == 0
    # Pasted as people paste in Korean chats: words glued on, brackets around.
    member = run(["chat", "--demo", "--as", "minji"], tmp_path,
                 stdin=f"{OTHERS_LINK}입니다\n({SHARE_LINK})\n내 현황\n", **temp)
    assert member.returncode == 0, member.stderr
    out = member.stdout
    if "마감" in out:  # the week's submissions are closed on the day the test runs
        return
    assert "이 게시물은 @seoul.cafe.daily 님의 게시물이에요" in out and "(@minji)" in out
    assert "✅ 접수했어요 (3/3)\n" in out and "https://www.instagram.com/p/DMinjiNew1x/" in out
    status = out.split("내 현황")[-1]
    assert "DMinjiNew1x" in status and "DCafePost1x" not in status and "share" not in status


def test_the_console_chat_sends_a_file(tmp_path: Path) -> None:
    from testkit.instagram_export_builder import export_zip

    export = tmp_path / "instagram.zip"
    export.write_bytes(export_zip(["a.one", "b.two"], ["a.one", "c.three"]))
    assert run(["migrate"], tmp_path).returncode == 0
    chat = run(["chat", "--as", "kim"], tmp_path,
               stdin=f"/file {tmp_path / 'missing.zip'}\n/file {export}\n")
    assert chat.returncode == 0, chat.stderr
    assert "no such file" in chat.stdout
    assert "팔로워 2명, 팔로잉 2명" in chat.stdout and "@c.three" in chat.stdout


def test_the_demo_adds_a_second_helper_and_warns_about_a_members_account(
    tmp_path: Path,
) -> None:
    temp = {"XDG_DATA_HOME": str(tmp_path)}
    assert run(["chat", "--demo"], tmp_path, **temp).returncode == 0
    admin = run(["chat", "--demo", "--as", "admin"], tmp_path,
                stdin="/addhelper\nsecond.helper\nany-password\n/addhelper\nminji\n/cancel\n",
                **temp)
    assert admin.returncode == 0, admin.stderr
    assert "@second.helper 로그인 완료" in admin.stdout
    assert "멤버의 인스타그램 계정이에요" in admin.stdout
