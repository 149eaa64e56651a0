"""The scheduled weekly jobs: schedule in Seoul time, results once, resume after a crash,
reminders, and one leader among instances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from jobs.leader import Leader
from jobs.runs import JobRuns
from jobs.schedule import JobRunner, Schedule, jobs_of
from jobs.weekly_loop import WeeklyJobs
from services.container import Services
from services.instagram.runtime import Instagram
from services.instagram.simulated import SimulatedInstagram
from services.week.calendar import Week
from storage.db import create_engine, session_factory
from storage.models import JobRun, Member, Submission
from tests.conftest import Clock
from tests.support.weekly_jobs import AFTER_DEADLINE, GROUP, WEDNESDAY, Phone, community, jobs_for


def test_the_schedule_fires_in_seoul_time() -> None:
    from zoneinfo import ZoneInfo

    seoul = ZoneInfo("Asia/Seoul")
    schedule = Schedule()
    assert schedule.final == "MON 00:04"  # SUN 23:59 and five minutes
    fake = WeeklyJobs.__new__(WeeklyJobs)
    fake.week_opens = fake.submission_warning = fake.final = fake.nudge = None  # type: ignore[assignment]
    fake.refresh = fake.remind = None  # type: ignore[assignment]
    triggers = {name: trigger for name, trigger, _ in jobs_of(schedule, fake, seoul)}
    sunday_night = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)  # Sunday 23:00 in Seoul
    nxt = {name: t.get_next_fire_time(None, sunday_night).astimezone(UTC)
           for name, t in triggers.items()}
    assert nxt["final"] == datetime(2026, 11, 29, 15, 4, tzinfo=UTC)  # Monday 00:04 KST
    assert nxt["reminder 08:00"] == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    assert nxt["reminder 22:00"] == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    assert nxt["week_open"] == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # Monday 09:00 KST
    assert nxt["submission_warning"] == datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    assert nxt["refresh 21:00"] == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def test_final_results_go_out_once_to_members_groups_and_admins(
    timed: Services, simulated: SimulatedInstagram, clock: Clock, instagram: Instagram
) -> None:
    found = await community(timed, simulated, members=5, linked=4, posts_each=2)
    # Someone who is not a member handed in a link in the open chat this week.
    from datetime import datetime as naive

    from testkit.kakao_export_builder import ExportBuilder

    export = ExportBuilder("iphone")
    export.message(naive(2026, 11, 24, 10, 0), "낯선이 @stranger.one",
                   "https://www.instagram.com/p/STRANGE01/")
    async with timed.transaction() as tx:
        await tx.open_chat.import_file(export.bytes(), "chat.txt", WEDNESDAY, None)
    phone = Phone()
    jobs = jobs_for(timed, phone, clock)
    clock.now = AFTER_DEADLINE
    await jobs.final()
    assert len(phone.posts) == 1
    chat, post = phone.posts[0]
    assert chat == GROUP and "댓글 품앗이 결과" in post.text
    for name in found.members:
        missed = [code for code, (owner, commenters) in found.posts.items()
                  if owner != name and name not in commenters]
        if missed:
            assert f"• @{name} — {len(missed)}개 빠짐: @" in post.text
        else:
            assert f"@{name}" in post.text.split("❌")[0]  # among those all done
    unreachable = found.members[4]
    assert "봇과 1:1 대화를 열고" in post.text and f"@{unreachable}" in post.text.split("📩")[1]
    assert post.buttons[0].url == "https://t.me/autogram_bot"
    private = {chat: texts for chat, texts in
               ((f"tg-{n}", phone.to(f"tg-{n}")) for n in found.members[:4])}
    assert all(texts[0].startswith("📊") for texts in private.values())
    # Then the ladder: a strike for whoever left posts uncommented, with the posts.
    for name in found.members[:4]:
        missed = [code for code, (owner, commenters) in found.posts.items()
                  if owner != name and name not in commenters]
        ladder = phone.to(f"tg-{name}")[1:]
        assert bool(ladder) == bool(missed)
        if missed:
            assert ladder[0].startswith(f"⚠️ 11월 23일 (월) ~ 11월 29일 (일) 경고: 댓글을 달지 않은 "
                                        f"게시물이 {len(missed)}개")
            assert all(code in ladder[0] for code in missed) and "이번은 경고예요" in ladder[0]
    (report,) = phone.to("tg-admin")
    assert report.startswith("🛠 Report: weekly verification and results (2026-W48)")
    assert "Messages: 4 delivered, 1 member unreachable" in report
    assert "Links from people who are not members (open chat): 낯선이 @stranger.one" in report
    # Re-running the finished period changes nothing and posts nothing.
    calls = len(simulated.calls)
    await jobs.final()
    await jobs_for(timed, phone, clock).final()
    assert len(phone.posts) == 1 and len(simulated.calls) == calls
    assert len(phone.to("tg-admin")) == 1


async def test_a_crash_mid_run_resumes_and_repeats_nothing_but_the_cut_step(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    await community(timed, simulated, members=4)
    phone = Phone()
    clock.now = AFTER_DEADLINE
    first = jobs_for(timed, phone, clock)

    async def crash(_render: Any, start_for: Any = None, picture: Any = None) -> int:
        raise SystemExit("the process died while posting")

    first.delivery.to_groups = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await first.final()
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "running"
        assert run.summary["steps"][:4] == ["verified", "recorded", "ladder", "members_sent"]
        assert "groups_sent" not in run.summary["steps"]
    members_told = len(phone.sent)
    calls = len(simulated.calls)
    # A restart: a new process, new job objects, the same database.
    await jobs_for(timed, phone, clock).final()
    assert len(simulated.calls) == calls  # the verification is not done again
    assert len(phone.sent) == members_told + 1  # only the admins' report is new
    # The group post is marked after it is posted: the cut one goes out now.
    assert len(phone.posts) == 1
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "done" and run.attempts == 2


async def test_a_run_interrupted_twice_is_not_retried_forever(timed: Services) -> None:
    runs = JobRuns(timed)
    assert await runs.claim("nudge", "2026-11-30") is not None
    runs.active.clear()  # the process died
    assert await runs.claim("nudge", "2026-11-30") is not None  # resumed once
    runs.active.clear()
    assert await runs.claim("nudge", "2026-11-30") is None
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun))
        assert run is not None and run.status == "failed" and "not retried" in (run.error or "")


async def test_reminders_nudges_and_the_sunday_warning(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=4, posts_each=1, comment_rate=0.0)
    phone = Phone()
    jobs = jobs_for(timed, phone, clock)
    await jobs.remind("08:00")
    assert all(len(phone.to(f"tg-{n}")) == 1 for n in found.members)
    text = phone.to(f"tg-{found.members[0]}")[0]
    assert text.startswith("⏰ 아직 댓글을 기다리는 게시물이 3개 있어요")
    await jobs.remind("08:00")  # the same slot again: nothing more
    assert len(phone.sent) == 4
    # Everyone comments on everything; the daily re-check sees it; the next reminder
    # has nobody to tell.
    for code, (owner, _) in found.posts.items():
        for name in found.members:
            if name != owner:
                simulated.posts[code].comments.append((name, "멋져요!"))
    await jobs.refresh()
    await jobs.remind("22:00")
    assert len(phone.sent) == 4 + 1  # only the refresh report to the admin
    assert phone.sent[-1][0] == "tg-admin" and "✅ 12" in phone.sent[-1][1]
    # Three days later, a post nobody commented on yet earns a nudge.
    simulated.add_post(found.members[0], "LATEPOST1")
    async with timed.transaction() as tx:
        from services.week.submissions import SubmissionRepo
        owner = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == found.members[0]))
        await SubmissionRepo(tx.session).add(owner, Week.containing(WEDNESDAY, tx.rules.timezone
                                                                    ).start,
                                             "https://www.instagram.com/p/LATEPOST1/",
                                             "LATEPOST1", submitted_at=WEDNESDAY)
    clock.now = WEDNESDAY + timedelta(days=3, hours=8)  # Saturday evening
    await jobs.nudge()
    nudges = [t for _, t in phone.sent if t.startswith("🙏")]
    assert len(nudges) == 3 and all("LATEPOST1" in t for t in nudges)
    # Sunday morning: members below the minimum of 2 posts are warned, once.
    clock.now = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # Sunday 09:00 in Seoul
    await jobs.submission_warning()
    await jobs.submission_warning()
    warnings = [c for c, t in phone.sent if t.startswith("📝")]
    assert sorted(warnings) == sorted(f"tg-{n}" for n in found.members[1:])


async def test_only_one_instance_runs_the_jobs(
    timed: Services, simulated: SimulatedInstagram, clock: Clock, database_url: str,
    tmp_path: Any
) -> None:
    await community(timed, simulated, members=3)
    clock.now = AFTER_DEADLINE
    phone = Phone()
    # Two instances: each its own engine (so its own lock connection) and job objects.
    other_engine = create_engine(database_url)
    try:
        other = Services(session_factory(other_engine), timed.rules, clock,
                         serialize=timed._one_writer is not None, instagram=timed.instagram)
        lock = tmp_path / "jobs.lock"
        first = JobRunner(jobs_for(timed, phone, clock), Leader(timed.engine, lock), Schedule())
        second = JobRunner(jobs_for(other, phone, clock), Leader(other_engine, lock),
                           Schedule())
        await first.watch()
        await second.watch()
        assert first.leader.leading and not second.leader.leading
        await first.guarded("final", first.jobs.final)
        await second.guarded("final", second.jobs.final)
        assert len(phone.posts) == 1
        # The leader dies: the other instance takes over at its next watch.
        await first.leader.release()
        await second.watch()
        assert second.leader.leading
    finally:
        await second.leader.release()
        await other_engine.dispose()


async def test_a_gone_post_is_told_to_its_owner_and_the_admins(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=3, posts_each=1)
    shortcode, (owner, _) = next(iter(found.posts.items()))
    simulated.posts[shortcode].gone = True
    phone = Phone()
    await jobs_for(timed, phone, clock).refresh()  # the daily re-check reads it once
    assert not [t for t in phone.to(f"tg-{owner}") if "삭제됐어요" in t]  # not yet
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, phone, clock).final()  # the final check's read confirms it
    (told,) = [t for t in phone.to(f"tg-{owner}") if "삭제됐어요" in t]
    assert shortcode in told and "삭제됐어요" in told
    admin = phone.to("tg-admin")
    assert any(t.startswith(f"⚠️ @{owner}'s post") and shortcode in t for t in admin)
    assert shortcode not in phone.posts[0][1].text  # out of everyone's debt


async def test_a_passing_not_found_at_the_final_check_strikes_nobody(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=3, posts_each=2)  # the minimum
    shortcode, (owner, _) = next(iter(found.posts.items()))
    simulated.posts[shortcode].not_found_reads = 1
    phone = Phone()
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, phone, clock).final()
    assert not [t for t in phone.to(f"tg-{owner}") if "삭제됐어요" in t]
    async with timed.transaction() as tx:
        strikes = await tx.accountability.strikes()
        status = await tx.session.scalar(select(Submission.status).where(
            Submission.shortcode == shortcode))
    assert status == "active"
    assert not [s for name, s in strikes if s.reason == "below_minimum" and name == owner]
    assert not [s for name, s in strikes if s.reason == "missing" and any(
        shortcode in url for _, url in s.detail["posts"])]


async def test_a_new_leader_catches_up_on_a_missed_final(
    timed: Services, simulated: SimulatedInstagram, clock: Clock, tmp_path: Any
) -> None:
    await community(timed, simulated, members=3)
    phone = Phone()
    clock.now = AFTER_DEADLINE + timedelta(hours=9)  # the bot was down at 00:04
    runner = JobRunner(jobs_for(timed, phone, clock), Leader(timed.engine,
                                                             tmp_path / "l.lock"), Schedule())
    try:
        await runner.watch()  # starts leading: the missed final runs now
        texts = [reply.text for _, reply in phone.posts]
        # The results, and (it is past Monday 09:00) the new week's opening post.
        assert len(texts) == 2 and "댓글 품앗이 결과" in texts[0]
        assert texts[1].startswith("📢 새로운 한 주가 시작됐어요")
        await runner.watch()
        assert len(phone.posts) == 2
    finally:
        await runner.leader.release()


async def test_check_now_is_rate_limited_per_member(
    timed: Services, simulated: SimulatedInstagram, clock: Clock, dispatcher: Any
) -> None:
    from tests.support.chat_driver import Person

    found = await community(timed, simulated, members=3)
    person = Person(dispatcher, f"tg-{found.members[0]}", platform="telegram")
    replies = await person.say("내 현황")
    assert replies[0].buttons[0].label == "🔄 지금 확인"
    await person.press("🔄 지금 확인")
    assert person.text.startswith("🔄 방금 인스타그램에서 확인했어요.")
    calls = len(simulated.calls)
    await person.say("/checknow")
    assert "이후에 다시 확인할 수 있어요" in person.text and len(simulated.calls) == calls
    clock.now += timedelta(minutes=11)
    await person.say("/checknow")
    assert person.text.startswith("🔄 방금")
    assert len(simulated.calls) == calls  # the commenter lists were fresh: no new requests


async def test_check_now_cooldown_is_kept_in_the_database(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    """Two presses (two instances at once) make one check, and a restart still waits."""
    import asyncio

    from handlers.dispatcher import Dispatcher
    from services.rules import CommunityRules
    from tests.support.chat_driver import Person

    found = await community(timed, simulated, members=3)
    name = found.members[0]
    async with timed.transaction() as tx:
        member_id = await tx.session.scalar(select(Member.id).where(
            Member.instagram_username == name))
    assert member_id is not None

    def instance() -> Services:  # another process (or this one restarted) on the database
        return Services(timed.sessions, CommunityRules(), clock,
                        serialize=timed.engine.dialect.name == "sqlite",
                        instagram=Instagram(simulated, max_wait=0.5, patience=0.5))

    one, two = instance(), instance()
    waits = await asyncio.gather(one.checks.claim(member_id, clock.now),
                                 two.checks.claim(member_id, clock.now))
    assert sorted(w is None for w in waits) == [False, True]  # one check, not two
    assert [w for w in waits if w is not None] == [clock.now + timedelta(minutes=10)]
    restarted = instance()
    clock.now += timedelta(minutes=5)
    assert await restarted.checks.next_check_for(member_id, clock.now) is not None
    person = Person(Dispatcher(restarted), f"tg-{name}", platform="telegram")
    calls = len(simulated.calls)
    await person.say("/checknow")
    assert "이후에 다시 확인할 수 있어요" in person.text and len(simulated.calls) == calls
    clock.now += timedelta(minutes=6)  # the cooldown passed
    assert await restarted.checks.next_check_for(member_id, clock.now) is None
    await person.say("/checknow")
    assert person.text.startswith("🔄 방금")
    assert await restarted.checks.claim(member_id, clock.now) is not None


async def test_two_bot_processes_run_the_final_job_exactly_once(
    timed: Services, simulated: SimulatedInstagram, database_url: str, tmp_path: Any
) -> None:
    import asyncio
    import sys
    from pathlib import Path

    from tests.conftest import TEST_KEY

    await community(timed, simulated, members=4)
    child = Path(__file__).with_name("leader_child.py")
    outs = [tmp_path / "one.txt", tmp_path / "two.txt"]
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, str(child), database_url, TEST_KEY, str(out), "2.0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for out in outs]
    results = [await process.communicate() for process in processes]
    roles = sorted(stdout.decode().strip() for stdout, _ in results)
    assert roles == ["leader", "standby"], [err.decode()[-2000:] for _, err in results]
    lines = [line for out in outs if out.exists() for line in out.read_text().splitlines()]
    assert sum(1 for line in lines if line.startswith("group\t📊")) == 1
    assert sum(1 for line in lines if line.startswith("admin\t🛠")) == 1
    async with timed.transaction() as tx:
        runs = (await tx.session.execute(select(JobRun.job, JobRun.status, JobRun.attempts)
                                         .where(JobRun.job == "final"))).all()
    assert runs == [("final", "done", 1)]


async def test_a_final_killed_with_sigkill_mid_results_drops_no_member(
    timed: Services, simulated: SimulatedInstagram, database_url: str, tmp_path: Any
) -> None:
    """A real process killed with SIGKILL while it sends the private results; the next
    process resumes: every member gets theirs, at most one twice, and one group post."""
    import asyncio
    import os
    import signal
    import sys
    from pathlib import Path

    from tests.conftest import TEST_KEY

    await community(timed, simulated, members=6, posts_each=1)
    child = Path(__file__).with_name("final_child.py")
    out = tmp_path / "sent.txt"

    def member_lines() -> list[str]:
        return [line for line in out.read_text().splitlines() if line.startswith("member")] \
            if out.exists() else []

    first = await asyncio.create_subprocess_exec(
        sys.executable, str(child), database_url, TEST_KEY, str(out), "0.3",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    for _ in range(600):  # until three private results are out
        if len(member_lines()) >= 3 or first.returncode is not None:
            break
        await asyncio.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    _, err = await first.communicate()
    assert first.returncode == -signal.SIGKILL, err.decode()[-2000:]
    cut = len(member_lines())
    assert 3 <= cut < 6
    second = await asyncio.create_subprocess_exec(
        sys.executable, str(child), database_url, TEST_KEY, str(out), "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, err = await second.communicate()
    assert stdout.decode().strip() == "finished", err.decode()[-2000:]
    results = [line.split("\t")[1] for line in member_lines() if "결과" in line
               and "경고" not in line]
    counts = {member_id: results.count(member_id) for member_id in set(results)}
    assert len(counts) == 6 and all(1 <= n <= 2 for n in counts.values()), counts
    assert sum(counts.values()) <= 7  # only the one cut mid-send may come twice
    lines = out.read_text().splitlines()
    assert sum(1 for line in lines if line.startswith("group\t")) == 1
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "done" and run.attempts == 2


async def test_a_suspension_is_lifted_on_time_and_the_member_told(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=2)
    name = found.members[0]
    async with timed.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == name))
        assert member is not None
        member.status, member.status_until = "suspended", WEDNESDAY + timedelta(hours=1)
    phone = Phone()
    jobs = jobs_for(timed, phone, clock)
    await jobs.lift()
    assert phone.sent == []  # not yet
    clock.now = WEDNESDAY + timedelta(hours=1)
    await jobs.lift()
    (told,) = phone.to(f"tg-{name}")
    assert told.startswith("✅ 활동 정지가 끝났어요")
    async with timed.transaction() as tx:
        member = await tx.session.scalar(select(Member).where(
            Member.instagram_username == name))
        assert member is not None and member.status == "active"


async def test_foreign_and_comments_off_posts_are_told_and_owed_by_nobody(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=3, posts_each=2)
    (foreign, (reposter, _)), (closed, (closer, _)) = list(found.posts.items())[::3][:2]
    simulated.posts[foreign].owner = "seoul.cafe"  # not the member's own post
    simulated.posts[closed].comments_off = True
    phone = Phone()
    clock.now = AFTER_DEADLINE
    await jobs_for(timed, phone, clock).final()
    assert any(foreign in t and "@seoul.cafe 님의 게시물" in t for t in phone.to(f"tg-{reposter}"))
    assert any(closed in t and "댓글이 꺼져" in t for t in phone.to(f"tg-{closer}"))
    admin = "\n".join(phone.to("tg-admin"))
    assert f"handed in by @{reposter} is by @seoul.cafe" in admin
    assert f"Comments are turned off or limited on @{closer}'s post" in admin
    group = phone.posts[0][1].text
    assert foreign not in group and closed not in group
    async with timed.transaction() as tx:
        results = await tx.progress.week_results(Week.containing(WEDNESDAY, timed.rules.timezone))
    owed = {item.shortcode for member in results.members for item in member.todo}
    assert foreign not in owed and closed not in owed
    submitted = {m.username: m.submitted for m in results.members}
    assert submitted[closer] == 2 and submitted[reposter] == 1  # comments off still counts


class DyingPhone(Phone):
    """A phone whose process dies (SystemExit, like kill -9 between two sends) after
    `lives` messages."""

    def __init__(self, lives: int) -> None:
        super().__init__()
        self.lives = lives

    async def send(self, chat_id: str, text: str) -> bool:
        if self.lives <= 0:
            raise SystemExit("killed while sending the private results")
        self.lives -= 1
        return await super().send(chat_id, text)


def results_by_member(phone: Phone, members: list[str]) -> dict[str, int]:
    return {name: sum(1 for text in phone.to(f"tg-{name}") if "결과" in text
                      and "경고" not in text) for name in members}


async def test_a_crash_while_sending_private_results_drops_none(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    from jobs import weekly_loop as weekly

    found = await community(timed, simulated, members=6, posts_each=1)
    clock.now = AFTER_DEADLINE
    weekly_send_batch = weekly.SEND_BATCH
    weekly.SEND_BATCH = 2
    try:
        dying = DyingPhone(lives=3)  # dies in the second batch of private results
        with pytest.raises(SystemExit):
            await jobs_for(timed, dying, clock).final()
        assert 0 < len(dying.sent) < 6
        phone = Phone()
        await jobs_for(timed, phone, clock).final()  # the restart resumes
    finally:
        weekly.SEND_BATCH = weekly_send_batch
    both = Phone()
    both.sent = dying.sent + phone.sent
    counts = results_by_member(both, found.members)
    assert all(1 <= n <= 2 for n in counts.values()), counts
    assert sum(counts.values()) <= 6 + 2  # at most the cut batch again
    # Those recorded before the crash are not sent to again.
    assert len([n for n in results_by_member(phone, found.members).values() if n]) < 6
    assert len(phone.posts) == 1
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "done"
        assert sorted(run.summary["members_done"]) == sorted(run.summary["members_done"])
        assert len(run.summary["members_done"]) == 6
        assert await tx.records.exists(Week.containing(WEDNESDAY, timed.rules.timezone))


async def test_a_final_interrupted_twice_still_records_the_week(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=4)
    clock.now = AFTER_DEADLINE
    for _ in range(2):  # killed twice (the run stays "running", as after kill -9)
        jobs = jobs_for(timed, Phone(), clock)

        async def killed(*_args: Any, **_kwargs: Any) -> Any:
            raise SystemExit("kill -9")

        jobs.delivery.to_members = killed  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            await jobs.final()
    phone = Phone()
    calls = len(simulated.calls)
    await jobs_for(timed, phone, clock).final()  # the third start
    assert len(simulated.calls) == calls  # the reads already written are kept
    assert all(n == 1 for n in results_by_member(phone, found.members).values())
    assert len(phone.posts) == 1
    async with timed.transaction() as tx:
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "done" and run.attempts == 3
        assert await tx.records.exists(Week.containing(WEDNESDAY, timed.rules.timezone))


async def test_a_final_that_cannot_finish_tells_the_admins_to_verify_then_verify_does(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    from handlers.dispatcher import Dispatcher
    from jobs.weekly_loop import FINAL_ATTEMPTS
    from tests.support.chat_driver import Person

    found = await community(timed, simulated, members=4)
    clock.now = AFTER_DEADLINE
    phone = Phone()
    for _ in range(FINAL_ATTEMPTS + 2):  # an error that repeats, at every start
        jobs = jobs_for(timed, phone, clock)

        async def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("the results picture font is missing")

        jobs.delivery.to_members = broken  # type: ignore[method-assign]
        try:
            await jobs.retry_final() if _ else await jobs.final()
        except RuntimeError:
            pass
    told = phone.to("tg-admin")
    assert len(told) == 1, told  # once, not at every start
    assert "failed 5 times" in told[0] and "/verify 2026-W48" in told[0]
    assert "the results picture font is missing" in told[0]
    assert phone.posts == [] and not any(results_by_member(phone, found.members).values())
    # The admin fixes it and sends /verify: last week's final check did not finish.
    jobs = jobs_for(timed, phone, clock)
    boss = Person(Dispatcher(timed), "tg-admin", "boss", platform="telegram",
                  language_hint="en")
    await boss.say("/verify")
    assert "2026-W48 is recorded and its results went out" in boss.text, boss.text
    assert all(n == 1 for n in results_by_member(phone, found.members).values())
    assert len(phone.posts) == 1
    async with timed.transaction() as tx:
        assert await tx.records.exists(Week.containing(WEDNESDAY, timed.rules.timezone))
        run = await tx.session.scalar(select(JobRun).where(JobRun.job == "final"))
        assert run is not None and run.status == "done"
    # Done once: the scheduled job and a second /verify do nothing more.
    await jobs.final()
    await boss.say("/verify 2026-W48")
    assert "already recorded" in boss.text
    assert len(phone.posts) == 1


async def test_verify_of_a_week_whose_final_never_ran_records_and_posts(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    from handlers.dispatcher import Dispatcher
    from tests.support.chat_driver import Person

    found = await community(timed, simulated, members=3)
    clock.now = AFTER_DEADLINE + timedelta(days=2)  # Wednesday: last week never ran
    phone = Phone()
    jobs_for(timed, phone, clock)
    boss = Person(Dispatcher(timed), "tg-admin", "boss", platform="telegram",
                  language_hint="en")
    await boss.say("/verify 2026-W40")
    assert "Write the week" not in boss.text and "No posts" in boss.text
    await boss.say("/verify 2026-W99")
    assert "Write the week like 2026-W47" in boss.text
    await boss.say("/verify 2026-W48")
    assert "2026-W48 is recorded and its results went out" in boss.text, boss.text
    assert all(n == 1 for n in results_by_member(phone, found.members).values())
    assert len(phone.posts) == 1 and "댓글 품앗이 결과" in phone.posts[0][1].text


async def test_ladder_news_cut_by_a_crash_is_still_told_after_the_restart(
    timed: Services, simulated: SimulatedInstagram, clock: Clock
) -> None:
    found = await community(timed, simulated, members=5, posts_each=2)
    clock.now = AFTER_DEADLINE
    first = jobs_for(timed, Phone(), clock)
    send = first.delivery.to_members

    async def killed_at_ladder(texts: dict[int, Any]) -> Any:
        if any(getattr(w, "name", "") == "ladder_news" for w in texts.values()):
            raise SystemExit("kill -9 before the ladder news")
        return await send(texts)

    first.delivery.to_members = killed_at_ladder  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await first.final()
    phone = Phone()
    await jobs_for(timed, phone, clock).final()
    warned = {name: len([t for t in phone.to(f"tg-{name}") if "경고" in t])
              for name in found.members}
    missed = {name for name in found.members
              if any(owner != name and name not in commenters
                     for owner, commenters in found.posts.values())}
    assert missed and all(warned[name] == 1 for name in missed), warned
    assert not any(results_by_member(phone, found.members).values())  # sent before
    assert len(phone.posts) == 1
