"""Import the open chat's export: every Instagram link becomes a submission or a listed reason.

Links are attributed by the Instagram id in the nickname (`실명 @instagram_id`, with the
usual variants), placed in the week of their own message, checked like a chat
submission at the message's time, and deduplicated: the same file twice adds nothing.
A message that reposts links (the owner's weekly round-up) credits none of them to its
sender: a link another member handed in, or a message with more post links than the
weekly maximum, is a repost.

The file is read in the upload worker process (`read_digest_off_loop`), which sends back
only what the import needs (`ExportDigest`): the counts, the first lines it could not
read and the messages with links in the weeks imported, so a 20 MB export costs the
event loop next to nothing.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.instagram.names import name_key
from services.open_chat.chat_export import ExportUnreadable, ParsedExport, read_chat_export
from services.operations.audit import AuditRepo
from services.operations.job_runs import JobRunRepo
from services.rules import CommunityRules
from services.uploads import in_worker
from services.week.calendar import Week
from services.week.post_links import LinkProblem, PostLink, parse_post_link
from services.week.submissions import SubmissionService, SubmitResult, Submitted
from storage.models import JobRun, Member, MemberName

FOLDER_JOB = "kakao_import_file"
STRANGERS_JOB = "open_chat_strangers"  # a record per week, not a scheduled job
USERNAME_TOKEN = re.compile(r"[A-Za-z0-9._]{1,30}")
MAX_NOT_UNDERSTOOD = 200  # lines kept for the report; the rest are counted

# Why a link was not used; each has a message in the catalogs (import.reason.<key>).
UNKNOWN_MEMBER = "unknown_member"
NO_INSTAGRAM_ID = "no_instagram_id"
NOT_A_POST = "not_a_post_link"
OVER_QUOTA = "over_quota"
AFTER_DEADLINE = "after_deadline"
NOT_ACTIVE = "member_not_active"
# Someone else's link again, or a round-up of more links than a week's maximum.
REPOST = "repost"
# A /share/ link: its post is only known after a request to Instagram, which an import
# (one transaction) does not make; the member hands in the post's own link instead.
SHARE_LINK = "share_link"
# Handed in in an earlier week (by anyone), and the community does not allow that.
EARLIER_WEEK = "earlier_week"


class LinkMessage(NamedTuple):
    """A message with links, as the import needs it (a tuple: cheap to send back from
    the worker process)."""

    line_no: int
    when: datetime
    nickname: str
    links: tuple[str, ...]


@dataclass
class ExportDigest:
    """What the import needs of a parsed export, small enough to cross processes."""

    layout: str
    messages: int = 0
    system_lines: int = 0
    not_understood: list[tuple[int, str]] = field(default_factory=list)  # the first ones
    not_understood_count: int = 0
    links_outside: int = 0  # links in messages before the weeks imported
    with_links: list[LinkMessage] = field(default_factory=list)
    # A file whose quotes never closed, read line by line: the rows a CSV reading found.
    rows_before_lines: int | None = None

    def __getstate__(self) -> dict[str, object]:
        """Sent back from the worker in columns, times as numbers: a hundred thousand
        links cross in a fraction of what one object each would cost."""
        state = dict(self.__dict__)
        messages = state.pop("with_links")
        zone = messages[0].when.tzinfo if messages else None
        state["packed"] = (zone, [m.line_no for m in messages],
                           [m.when.timestamp() for m in messages],
                           [m.nickname for m in messages], [m.links for m in messages])
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        zone, line_nos, stamps, nicknames, links = state.pop("packed")  # type: ignore[misc]
        self.__dict__.update(state)
        self.with_links = [
            LinkMessage(line_no, datetime.fromtimestamp(stamp, zone), nickname, found)
            for line_no, stamp, nickname, found in zip(line_nos, stamps, nicknames, links,
                                                       strict=True)]


# What a chat message holds that is a URL: with its scheme, from "www.", or a bare
# domain whose last part is letters ("instagram.com/p/…"). Not "1.5kg/박스", "8.0/Data"
# or "메론1.달콤한돈1/…": prices, versions and Korean words with a dot and a slash.
URL_IN_CHAT = re.compile(
    r"(?:https?://|www\.)\S+|(?<![\w.@/-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/\S*",
    re.IGNORECASE)


def links_in(text: str) -> tuple[str, ...]:
    """Every link of a message, without the punctuation a sentence puts after it."""
    return tuple(raw.rstrip(".,!?…)]}>\"'") for raw in URL_IN_CHAT.findall(text))


def digest(parsed: ParsedExport, since: datetime | None) -> ExportDigest:
    """The import's view of `parsed`: links from `since` on (all when None). A file with
    no message at all is refused, with its first lines."""
    if not parsed.messages:
        raise ExportUnreadable("no_messages", tuple(
            s.text[:80] for s in parsed.skipped if s.reason == "not_understood")[:5])
    result = ExportDigest(parsed.layout, messages=len(parsed.messages),
                          rows_before_lines=parsed.csv_rows_before_lines)
    for skipped in parsed.skipped:
        if skipped.reason == "system":
            result.system_lines += 1
        else:
            result.not_understood_count += 1
            if len(result.not_understood) < MAX_NOT_UNDERSTOOD:
                result.not_understood.append((skipped.line_no, skipped.text[:200]))
    for message in parsed.messages:
        if "/" not in message.text and "www." not in message.text:
            continue  # no link (most chatter): no regex needed
        links = links_in(message.text)
        if not links:
            continue
        if since is not None and message.when < since:
            result.links_outside += len(links)
            continue
        result.with_links.append(LinkMessage(message.line_no, message.when, message.nickname,
                                             links))
    return result


def read_digest(data: bytes, name: str, zone: ZoneInfo, since: datetime | None
                ) -> ExportDigest:
    """Decode, parse and digest one export (blocking: the worker process runs it)."""
    return digest(read_chat_export(data, name, zone), since)


async def read_digest_off_loop(data: bytes, name: str, zone: ZoneInfo,
                               since: datetime | None) -> ExportDigest:
    """`read_digest` in the upload worker process: the bot answers others meanwhile."""
    try:
        return await in_worker(read_digest, data, name, zone, since)
    except BrokenProcessPool:  # the worker died (its memory): the file was too much
        raise ExportUnreadable("not_text") from None


def import_start(now: datetime, rules: CommunityRules, weeks_back: int | None
                 ) -> datetime | None:
    """The first moment an import of the last `weeks_back` weeks looks at."""
    if weeks_back is None:
        return None
    week = Week.containing(now, rules.timezone)
    for _ in range(weeks_back - 1):
        week = week.previous()
    return datetime.combine(week.start, datetime.min.time(), rules.timezone)


@dataclass(frozen=True)
class UnusedLink:
    line_no: int
    nickname: str
    link: str
    reason: str


@dataclass
class ImportReport:
    layout: str
    messages: int = 0
    links: int = 0
    added: int = 0
    duplicates: int = 0
    system_lines: int = 0
    weeks: list[str] = field(default_factory=list)
    unused: list[UnusedLink] = field(default_factory=list)
    not_understood: list[tuple[int, str]] = field(default_factory=list)  # the first ones
    not_understood_count: int = 0
    links_outside: int = 0  # links before the weeks imported (not listed one by one)
    added_by_member: dict[str, int] = field(default_factory=dict)
    rows_before_lines: int | None = None  # see ExportDigest


def instagram_id(nickname: str, members: dict[str, int]) -> tuple[str | None, str | None]:
    """(username, problem) from a nickname like `김하나 @hana.daily`, `이도윤 / dy_lee`,
    `이름 id` or `@Id`: the id after `@`, else a token that is a member's username.
    `members` maps every name that credits a member (old names too) to its member."""
    if "@" in nickname:
        match = USERNAME_TOKEN.match(nickname.rsplit("@", 1)[1].strip())
        if match:
            name = name_key(match.group(0)).rstrip(".")
            return (name, None) if name in members else (None, UNKNOWN_MEMBER)
    tokens = [name_key(t) for t in re.split(r"[\s/|,]+", nickname)
              if USERNAME_TOKEN.fullmatch(t)]
    for token in reversed(tokens):
        if token in members:
            return token, None
    return None, NO_INSTAGRAM_ID


@dataclass(frozen=True)
class MailReport:
    """What one mail to the community's mailbox gave, told to the admins in one message:
    why it was refused (`refused`: a key of import.mail_refused.*), or each attached
    file with its report or why it could not be read."""

    sender: str
    refused: str | None = None
    files: tuple[tuple[str, ImportReport | ExportUnreadable], ...] = ()


class OpenChatImporter:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules
        self.submissions = SubmissionService(session, rules)
        self.audit = AuditRepo(session)
        self._current: dict[int, str] = {}  # member id -> name now (`_members`)

    async def _members(self) -> dict[str, int]:
        """Every name that credits a member: the names members have now, and the names
        they had before a rename (an old nickname in the open chat still credits them;
        a name someone has now wins over another's old one, the latest holder of an old
        name over earlier ones)."""
        rows = await self.session.execute(select(Member.instagram_username, Member.id))
        members = {name: member_id for name, member_id in rows.all()}
        current = set(members)
        self._current = {member_id: name for name, member_id in members.items()}
        old = await self.session.execute(
            select(MemberName.username, MemberName.member_id).order_by(MemberName.until))
        for name, member_id in old.all():
            if name not in current:
                members[name] = member_id
        return members

    async def import_file(
        self, data: bytes, name: str, now: datetime, weeks_back: int | None,
        actor_id: int | None = None,
    ) -> ImportReport:
        """Decode, parse and import one export file here (`autogram import-kakao`);
        ExportUnreadable says why it cannot. The file is read before the first statement,
        so no database lock waits for the parsing; the bot, which must keep answering
        meanwhile, reads files off the loop first (`read_digest_off_loop`)."""
        since = import_start(now, self.rules, weeks_back)
        found = read_digest(data, name, self.rules.timezone, since)
        return await self.run(found, actor_id, name)

    async def import_once(self, key: str, found: ExportDigest, name: str
                          ) -> ImportReport | None:
        """Import a file (the watched folder, a mail) unless `key` was imported before
        (by any instance: the job-run row is unique); None when it was."""
        runs = JobRunRepo(self.session)
        if await runs.get(FOLDER_JOB, key) is not None:
            return None
        run = await runs.start(FOLDER_JOB, key)
        report = await self.run(found, None, name)
        await runs.finish(run, "done", {"file": name, "added": report.added,
                                        "links": report.links, "unused": len(report.unused)})
        return report

    async def was_read(self, key: str) -> bool:
        """Whether the file (or mail) `key` names was imported, or refused, before."""
        return await JobRunRepo(self.session).get(FOLDER_JOB, key) is not None

    async def remember_failure(self, key: str, name: str, reason: str) -> None:
        """A file that could not be imported is reported once, not at every scan."""
        runs = JobRunRepo(self.session)
        run = await runs.get(FOLDER_JOB, key) or await runs.start(FOLDER_JOB, key)
        await runs.finish(run, "failed", {"file": name[:200], "reason": reason})

    async def keys_seen(self, job: str) -> list[str]:
        """The records of `job` (the mails read so far)."""
        rows = await self.session.scalars(select(JobRun.period).where(JobRun.job == job))
        return list(rows)

    async def mail_records(self, job: str) -> dict[str, dict[str, object]]:
        """The records of `job` with what each says (a mail's UID, its Message-ID's)."""
        rows = await self.session.execute(
            select(JobRun.period, JobRun.summary).where(JobRun.job == job))
        return {period: dict(summary or {}) for period, summary in rows.all()}

    async def remember_mail(self, job: str, key: str, sender: str, files: list[str],
                            status: str = "done", **more: object) -> None:
        """A mail is read once, whatever its attachments (or its headers) gave."""
        runs = JobRunRepo(self.session)
        run = await runs.get(job, key) or await runs.start(job, key)
        await runs.finish(run, status, {"from": sender[:200],
                                        "files": [f[:200] for f in files], **more})

    async def run(self, found: ExportDigest, actor_id: int | None = None,
                  source_name: str = "") -> ImportReport:
        """Import the digest's links (those in the weeks it was read for)."""
        members = await self._members()
        report = ImportReport(found.layout, messages=found.messages,
                              system_lines=found.system_lines,
                              not_understood=found.not_understood,
                              not_understood_count=found.not_understood_count,
                              links=found.links_outside, links_outside=found.links_outside,
                              rows_before_lines=found.rows_before_lines)
        seen_weeks: set[str] = set()
        strangers: dict[str, set[str]] = {}  # week -> nicknames that are not members
        pending: list[tuple[LinkMessage, str, str, int, PostLink]] = []
        labels: dict[date, str] = {}  # a week label per day, worked out once
        who: dict[str, tuple[str | None, str | None]] = {}  # nickname -> instagram_id()
        for n, message in enumerate(found.with_links, 1):
            if n % 2000 == 0:
                await asyncio.sleep(0)  # a huge file: let others' events in between
            day = message.when.date()
            label = labels.get(day) or labels.setdefault(
                day, Week.containing(message.when, self.rules.timezone).label)
            seen_weeks.add(label)
            report.links += len(message.links)
            posts = [(link, parse_post_link(link)) for link in message.links]
            round_up = sum(1 for _, post in posts if isinstance(post, PostLink)
                           and not post.is_share) > self.rules.weekly_max_posts
            for link, post in posts:
                if round_up and isinstance(post, PostLink) and not post.is_share:
                    report.unused.append(UnusedLink(message.line_no, message.nickname, link,
                                                    REPOST))
                    continue
                if message.nickname not in who:
                    who[message.nickname] = instagram_id(message.nickname, members)
                attributed = self._attribute(message, link, post, who[message.nickname],
                                             members, self._current, report)
                if attributed is not None:
                    pending.append((message, link, *attributed))
                elif report.unused[-1].reason in (UNKNOWN_MEMBER, NO_INSTAGRAM_ID):
                    strangers.setdefault(label, set()).add(message.nickname)
        results = await self.submissions.submit_many(
            [(member_id, post, message.when) for message, _, _, member_id, post in pending],
            source="kakao",
        )
        for (message, link, username, _, _), done in zip(pending, results, strict=True):
            self._count(message, link, username, done, report)
        await self._remember_strangers(strangers)
        report.unused.sort(key=lambda unused: unused.line_no)  # in the file's order
        report.weeks = sorted(seen_weeks)
        await self.audit.add(actor_id, "kakao_import", target=source_name[:200],
                             detail=f"added {report.added}, links {report.links}")
        return report

    async def _remember_strangers(self, strangers: dict[str, set[str]]) -> None:
        """Who handed in links in the open chat without being a member, per week: the
        weekly report tells the admins (they may want to invite them)."""
        runs = JobRunRepo(self.session)
        for label, names in strangers.items():
            run = await runs.get(STRANGERS_JOB, label) or await runs.start(STRANGERS_JOB, label)
            known = set((run.summary or {}).get("names", []))
            await runs.finish(run, "done", {"names": sorted(known | names)})

    async def strangers(self, week: Week) -> list[str]:
        run = await JobRunRepo(self.session).get(STRANGERS_JOB, week.label)
        return list((run.summary or {}).get("names", [])) if run else []

    @staticmethod
    def _attribute(message: LinkMessage, link: str, post: PostLink | LinkProblem,
                   who: tuple[str | None, str | None], members: dict[str, int],
                   current: dict[int, str], report: ImportReport
                   ) -> tuple[str, int, PostLink] | None:
        """The member (their name now) and post of one link, or None with the reason
        listed."""
        if isinstance(post, LinkProblem):
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, NOT_A_POST))
            return None
        if post.is_share:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, SHARE_LINK))
            return None
        username, problem = who
        if username is None:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link,
                                            problem or NO_INSTAGRAM_ID))
            return None
        member_id = members[username]
        return current.get(member_id, username), member_id, post

    @staticmethod
    def _count(message: LinkMessage, link: str, username: str, done: Submitted,
               report: ImportReport) -> None:
        if done.result is SubmitResult.ACCEPTED:
            report.added += 1
            report.added_by_member[username] = report.added_by_member.get(username, 0) + 1
        elif done.result is SubmitResult.DUPLICATE_OWN:
            report.duplicates += 1
        else:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, {
                SubmitResult.DUPLICATE_OTHER: REPOST,
                SubmitResult.OVER_MAX: OVER_QUOTA,
                SubmitResult.CLOSED: AFTER_DEADLINE,
                SubmitResult.NOT_ACTIVE: NOT_ACTIVE,
                SubmitResult.EARLIER_WEEK: EARLIER_WEEK,
            }[done.result]))
