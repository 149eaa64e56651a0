"""Import the open chat's export: every Instagram link becomes a submission or a listed reason.

Links are attributed by the Instagram id in the nickname (`실명 @instagram_id`, with the
usual variants), placed in the week of their own message, checked like a chat
submission at the message's time, and deduplicated: the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kakao_export import (
    ChatMessage,
    ExportUnreadable,
    ParsedExport,
    read_chat_export,
)
from services.links import ANY_URL, LinkProblem, PostLink, parse_post_link
from services.rules import CommunityRules
from services.submissions import SubmissionService, SubmitResult, Submitted
from services.weeks import Week
from storage.models import Member
from storage.repositories.operations import AuditRepo, JobRunRepo

FOLDER_JOB = "kakao_import_file"
STRANGERS_JOB = "open_chat_strangers"  # a record per week, not a scheduled job
USERNAME_TOKEN = re.compile(r"[A-Za-z0-9._]{1,30}")

# Why a link was not used; each has a message in the catalogs (import.reason.<key>).
UNKNOWN_MEMBER = "unknown_member"
NO_INSTAGRAM_ID = "no_instagram_id"
NOT_A_POST = "not_a_post_link"
OVER_QUOTA = "over_quota"
OUTSIDE_WEEKS = "outside_weeks"
AFTER_DEADLINE = "after_deadline"
NOT_ACTIVE = "member_not_active"
TAKEN = "submitted_by_another_member"
# A /share/ link: its post is only known after a request to Instagram, which an import
# (one transaction) does not make; the member hands in the post's own link instead.
SHARE_LINK = "share_link"


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
    not_understood: list[tuple[int, str]] = field(default_factory=list)
    added_by_member: dict[str, int] = field(default_factory=dict)


def instagram_id(nickname: str, members: dict[str, int]) -> tuple[str | None, str | None]:
    """(username, problem) from a nickname like `김하나 @hana.daily`, `이도윤 / dy_lee`,
    `이름 id` or `@Id`: the id after `@`, else a token that is a member's username."""
    if "@" in nickname:
        match = USERNAME_TOKEN.match(nickname.rsplit("@", 1)[1].strip())
        if match:
            name = match.group(0).lower().rstrip(".")
            return (name, None) if name in members else (None, UNKNOWN_MEMBER)
    tokens = [t.lower() for t in re.split(r"[\s/|,]+", nickname) if USERNAME_TOKEN.fullmatch(t)]
    for token in reversed(tokens):
        if token in members:
            return token, None
    return None, NO_INSTAGRAM_ID


class OpenChatImporter:
    def __init__(self, session: AsyncSession, rules: CommunityRules) -> None:
        self.session = session
        self.rules = rules
        self.submissions = SubmissionService(session, rules)
        self.audit = AuditRepo(session)

    async def _members(self) -> dict[str, int]:
        rows = await self.session.execute(select(Member.instagram_username, Member.id))
        return {name: member_id for name, member_id in rows.all()}

    async def import_file(
        self, data: bytes, name: str, now: datetime, weeks_back: int | None,
        actor_id: int | None = None,
    ) -> ImportReport:
        """Decode, parse and import one export file here (the CLI); ExportUnreadable says
        why it cannot. The bot reads files off the loop first (`read_off_loop`)."""
        parsed = read_chat_export(data, name, self.rules.timezone)
        return await self.import_parsed(parsed, now, weeks_back, actor_id, name)

    async def import_parsed(
        self, parsed: ParsedExport, now: datetime, weeks_back: int | None,
        actor_id: int | None = None, name: str = "",
    ) -> ImportReport:
        if not parsed.messages:
            raise ExportUnreadable("no_messages", tuple(
                s.text[:80] for s in parsed.skipped if s.reason == "not_understood")[:5])
        weeks = None if weeks_back is None else recent_weeks(now, self.rules, weeks_back)
        return await self.run(parsed, weeks, actor_id, name)

    async def import_once(
        self, data: bytes, parsed: ParsedExport, name: str, now: datetime,
        weeks_back: int | None,
    ) -> ImportReport | None:
        """Import a file from the watched folder unless the same content was imported
        before (by any instance: the job-run row is unique); None when it was."""
        digest = hashlib.sha256(data).hexdigest()
        runs = JobRunRepo(self.session)
        if await runs.get(FOLDER_JOB, digest) is not None:
            return None
        run = await runs.start(FOLDER_JOB, digest)
        report = await self.import_parsed(parsed, now, weeks_back, None, name)
        await runs.finish(run, "done", {"file": name, "added": report.added,
                                        "links": report.links, "unused": len(report.unused)})
        return report

    async def was_read(self, data: bytes) -> bool:
        """Whether the watched folder's file was imported (or refused) before."""
        return await JobRunRepo(self.session).get(
            FOLDER_JOB, hashlib.sha256(data).hexdigest()) is not None

    async def remember_unreadable(self, data: bytes, name: str, reason: str) -> None:
        """An unreadable file is reported once too, not at every scan of the folder."""
        runs = JobRunRepo(self.session)
        run = await runs.start(FOLDER_JOB, hashlib.sha256(data).hexdigest())
        await runs.finish(run, "failed", {"file": name, "reason": reason})

    async def run(
        self,
        parsed: ParsedExport,
        weeks: set[Week] | None,
        actor_id: int | None = None,
        source_name: str = "",
    ) -> ImportReport:
        """Import the messages of `weeks` (every week in the file when None)."""
        members = await self._members()
        report = ImportReport(parsed.layout, messages=len(parsed.messages))
        report.system_lines = sum(1 for s in parsed.skipped if s.reason == "system")
        report.not_understood = [(s.line_no, s.text) for s in parsed.skipped
                                 if s.reason == "not_understood"]
        seen_weeks: set[str] = set()
        strangers: dict[str, set[str]] = {}  # week -> nicknames that are not members
        pending: list[tuple[ChatMessage, str, str, int, PostLink]] = []
        for message in parsed.messages:
            for raw in ANY_URL.findall(message.text):
                link = raw.rstrip(".,!?…)]}>\"'")
                report.links += 1
                week = Week.containing(message.when, self.rules.timezone)
                if weeks is not None and week not in weeks:
                    report.unused.append(UnusedLink(message.line_no, message.nickname, link,
                                                    OUTSIDE_WEEKS))
                    continue
                seen_weeks.add(week.label)
                found = self._attribute(message, link, members, report)
                if found is not None:
                    pending.append((message, link, *found))
                elif report.unused[-1].reason in (UNKNOWN_MEMBER, NO_INSTAGRAM_ID):
                    strangers.setdefault(week.label, set()).add(message.nickname)
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
    def _attribute(message: ChatMessage, link: str, members: dict[str, int],
                   report: ImportReport) -> tuple[str, int, PostLink] | None:
        """The member and post of one link, or None with the reason listed."""
        parsed = parse_post_link(link)
        if isinstance(parsed, LinkProblem):
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, NOT_A_POST))
            return None
        if parsed.is_share:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, SHARE_LINK))
            return None
        username, problem = instagram_id(message.nickname, members)
        if username is None:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link,
                                            problem or NO_INSTAGRAM_ID))
            return None
        return username, members[username], parsed

    @staticmethod
    def _count(message: ChatMessage, link: str, username: str, done: Submitted,
               report: ImportReport) -> None:
        if done.result is SubmitResult.ACCEPTED:
            report.added += 1
            report.added_by_member[username] = report.added_by_member.get(username, 0) + 1
        elif done.result is SubmitResult.DUPLICATE_OWN:
            report.duplicates += 1
        else:
            report.unused.append(UnusedLink(message.line_no, message.nickname, link, {
                SubmitResult.DUPLICATE_OTHER: TAKEN,
                SubmitResult.OVER_MAX: OVER_QUOTA,
                SubmitResult.CLOSED: AFTER_DEADLINE,
                SubmitResult.NOT_ACTIVE: NOT_ACTIVE,
            }[done.result]))


def recent_weeks(now: datetime, rules: CommunityRules, count: int) -> set[Week]:
    """The current week and the `count - 1` before it: what a weekly export covers."""
    week = Week.containing(now, rules.timezone)
    result = set()
    for _ in range(count):
        result.add(week)
        week = week.previous()
    return result
