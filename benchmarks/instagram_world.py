"""A realistic Instagram for a whole week of a community, with its truth kept.

Independent of the product's own simulated Instagram (services/instagram/simulated.py):
the week benchmark (benchmarks/week.py) asks it through the product's instagrapi
gateway with only the transport replaced, so what the product would meet is what it
meets here, and the lower bound is computed from the same truth.

- Members hand in two or three posts each, Monday to Saturday, at random times. Every
  account has a stable pk; a few members rename mid-week (comments, the media's user
  and `usernameinfo` show the name of the moment). Comment pks grow with time and every
  comment carries `created_at_utc`.
- Each member owed a comment makes it by the deadline with the compliance rate, spread
  over the days after the post; of the rest half comment late (within 40 h after the
  cutoff), half never. Some comment twice, a few only reply to someone else's comment
  (a reply counts). Fans (outsiders) comment too; the owner thanks in replies, members
  now and then reply. A few posts hold hidden comments (counted, never listed); a collab
  post or two has a co-author member (who owes nothing there).
- Bodies as the mobile API sends them: `media/{pk}/info/`, `media/{pk}/comments/` (15 a
  page by default; the first page, without a cursor, is the newest; `max_id` = older,
  `min_id` = newer than the cursor's comment), `.../inline_child_comments/` both ways,
  `users/{name}/usernameinfo/`. The world answers as of the time asked: comments made
  later are not there yet.
- Throttling per helper account: over 200 requests in a sliding hour, or over 40 in
  five minutes, brings a sticky 15-minute block ("Please wait a few minutes", 429:
  every request during it answers the same and is counted); a share `faults` of the
  other requests fails: a bare 429, a 5xx, rarely `feedback_required`, or
  `challenge_required` (the account answers that until someone logs it in again).
  Every request is counted by account and by kind (the benchmark's tag), every block
  recorded.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from contextvars import ContextVar
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Any

from instagrapi import Client

from services.sample_community import member_names

PAGE = 15  # comments a page (20 as an option)
REPLY_PAGE = 15
PREVIEWS = 2  # the oldest replies, shown inside their comment
HOUR_LIMIT = 200  # requests an account may make in a sliding hour
BURST_LIMIT, BURST_WINDOW = 40, 300.0  # more in five minutes brings a block sooner
BLOCK = 900.0  # seconds a block lasts (sticky)
FAULTS = (("throttled", 0.55), ("server", 0.40), ("feedback", 0.03), ("challenge", 0.02))
LATE_WITHIN = 40 * 3600.0  # late comments come within this after the cutoff
DAY = 86400.0
READ_TAKES = 900.0  # seconds a post's read may take before its verdicts are written

# Which of the product's entry points a request serves (set by the benchmark around each
# call; the gateway's threads run in a copy of the caller's context, so they see it).
KIND: ContextVar[str] = ContextVar("instagram_world_kind", default="other")


@dataclass
class Account:
    pk: int
    names: list[tuple[float, str]]  # (from when, username), in order

    def name_at(self, at: float) -> str:
        name = self.names[0][1]
        for since, later in self.names:
            if since <= at:
                name = later
        return name


@dataclass
class Comment:
    author: int  # account pk
    at: float
    parent: Comment | None = None
    hidden: bool = False
    pk: int = 0
    replies: list[Comment] = field(default_factory=list)


@dataclass
class WorldPost:
    code: str
    pk: str
    owner: int  # member index
    posted_at: float
    submitted_at: float
    coauthor: int | None = None
    comments: list[Comment] = field(default_factory=list)  # top level, by pk once numbered
    # Built on first use, once the world has numbered and sorted the comments (it never
    # changes them after): the listed comments and their times and pks, every comment's
    # and reply's time, each account's first comment. A 1,000-member week asks these
    # hundreds of thousands of times; bisecting keeps each answer short.
    _shown: list[Comment] | None = field(default=None, repr=False)
    _shown_at: list[float] = field(default_factory=list, repr=False)
    _shown_pks: list[int] = field(default_factory=list, repr=False)
    _every_at: list[float] = field(default_factory=list, repr=False)
    _first: dict[int, float] | None = field(default=None, repr=False)

    def _listed(self) -> list[Comment]:
        if self._shown is None:
            self._shown = [c for c in self.comments if not c.hidden]
            self._shown_at = [c.at for c in self._shown]
            self._shown_pks = [c.pk for c in self._shown]
            self._every_at = sorted(x.at for c in self.comments for x in (c, *c.replies))
        return self._shown

    def shown(self, at: float) -> int:
        """How many of the listed comments (oldest first) were made by `at`: comment pks
        grow with time, so they are a prefix."""
        self._listed()
        return bisect_right(self._shown_at, at)

    def visible(self, at: float) -> list[Comment]:
        return self._listed()[:self.shown(at)]

    def count(self, at: float) -> int:
        """What Instagram reports: every comment and reply made by then, hidden ones too
        (a reply always comes after its comment)."""
        self._listed()
        return bisect_right(self._every_at, at)

    def first_comments(self) -> dict[int, float]:
        """Each account's first comment or reply on the post (hidden ones never count)."""
        if self._first is None:
            first: dict[int, float] = {}
            for top in self.comments:
                for c in (top, *top.replies):
                    if not c.hidden and c.at < first.get(c.author, math.inf):
                        first[c.author] = c.at
            self._first = first
        return self._first


@dataclass
class Throttle:
    """One helper account as Instagram's limits see it."""

    times: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0
    checkpoint_at: float | None = None


class World:
    """One week of a community of `members`; times are Unix seconds."""

    def __init__(self, members: int, *, start: float, cutoff: float, seed: int = 1,
                 compliance: tuple[float, float] = (0.90, 0.95), page: int = PAGE,
                 faults: float = 0.0) -> None:
        chance = random.Random(seed)
        self.start, self.cutoff, self.page, self.faults = start, cutoff, page, faults
        self.compliance = chance.uniform(*compliance)
        names = member_names(members)
        self.members = [Account(5_000_000 + i, [(0.0, name)]) for i, name in enumerate(names)]
        self.by_pk = {a.pk: a for a in self.members}
        for i in chance.sample(range(members), max(1, members // 15)):  # renamed mid-week
            when = start + chance.uniform(2 * DAY, 5 * DAY)
            self.members[i].names.append((when, f"{names[i]}.new"))
        self.posts: list[WorldPost] = []
        self.fans = 0
        codes = Client()  # shortcode -> media pk, as the product computes it
        for owner in range(members):
            for number in range(chance.choice((2, 3))):
                posted = start + chance.uniform(9 * 3600.0, 5 * DAY + 22 * 3600.0)
                code = f"W{seed:02d}{owner:05d}{number}"
                self.posts.append(WorldPost(code, str(codes.media_pk_from_code(code)),
                                            owner, posted, posted + chance.uniform(60, 1800)))
        for post in chance.sample(self.posts, 1 if members < 50 else 2):  # collab posts
            post.coauthor = chance.choice([m for m in range(members) if m != post.owner])
        for post in self.posts:
            self._comments(post, chance)
        for post in chance.sample(self.posts, max(1, len(self.posts) // 12)):
            fans = [c for c in post.comments if c.author >= 9_000_000]
            for hidden in chance.sample(fans, min(len(fans), chance.randint(1, 2))):
                hidden.hidden = True
        every = sorted((c for p in self.posts for top in p.comments for c in (top, *top.replies)),
                       key=lambda c: c.at)
        for number, comment in enumerate(every):  # pks grow with time
            comment.pk = 17_900_000_000_000_000 + number * 7
        for post in self.posts:
            post.comments.sort(key=lambda c: c.pk)
            for top in post.comments:
                top.replies.sort(key=lambda c: c.pk)
        self.by_media = {p.pk: p for p in self.posts}
        self.by_code = {p.code: p for p in self.posts}
        self.comment_by_pk = {c.pk: c for c in every}
        # Counts and blocks.
        self.chance = random.Random(seed * 7919)
        self.accounts: dict[str, Throttle] = {}
        self.requests: Counter[str] = Counter()  # by account
        self.kinds: Counter[str] = Counter()  # by kind
        self.answers: Counter[str] = Counter()  # ok, blocked, throttled, server, ...
        self.blocks: list[tuple[str, float, float]] = []
        self.checkpoints: list[tuple[str, float]] = []

    # --- the week's comments --------------------------------------------------------

    def _comments(self, post: WorldPost, chance: random.Random) -> None:
        owner = self.members[post.owner]
        span = max(600.0, self.cutoff - post.posted_at - 60)
        tops: list[Comment] = []
        repliers: list[tuple[int, float]] = []
        for index, member in enumerate(self.members):
            if index in (post.owner, post.coauthor):
                continue
            roll = chance.random()
            if roll < self.compliance:
                at = post.posted_at + 60 + span * chance.betavariate(1.0, 2.5)
            elif roll < self.compliance + (1 - self.compliance) / 2:
                at = self.cutoff + chance.uniform(600, LATE_WITHIN)
            else:
                continue
            if chance.random() < 0.04:
                repliers.append((member.pk, at))  # only replies to someone's comment
                continue
            tops.append(Comment(member.pk, at))
            if chance.random() < 0.05:  # a second comment later
                tops.append(Comment(member.pk, at + chance.uniform(600, DAY)))
        for _ in range(max(1, len(tops) // 8)):  # fans
            self.fans += 1
            tops.append(Comment(9_000_000 + self.fans,
                                post.posted_at + chance.uniform(60, span + DAY)))
        for top in tops:
            if top.author != owner.pk and chance.random() < 0.3:  # the owner thanks
                top.replies.append(Comment(owner.pk, top.at + chance.uniform(300, 12 * 3600),
                                           top))
            if chance.random() < 0.05:  # now and then a member answers
                other = chance.choice(self.members)
                if other.pk != top.author:
                    top.replies.append(Comment(other.pk, top.at + chance.uniform(300, DAY), top))
        for pk, at in repliers:
            earlier = [t for t in tops if t.at < at]
            if earlier:
                parent = chance.choice(earlier)
                parent.replies.append(Comment(pk, at, parent))
            else:
                tops.append(Comment(pk, at))
        post.comments = tops

    # --- truth ------------------------------------------------------------------------

    def owes(self, member: int, post: WorldPost) -> bool:
        return member not in (post.owner, post.coauthor)

    def first_comments(self, post: WorldPost) -> dict[int, float]:
        """Each account's first comment or reply on the post (hidden ones never count)."""
        return post.first_comments()

    def truth(self, at: float) -> dict[tuple[int, str], str]:
        """(member index, post code) -> done / late / missing as of `at`, for every debt."""
        found: dict[tuple[int, str], str] = {}
        for post in self.posts:
            first = self.first_comments(post)
            for index, member in enumerate(self.members):
                if not self.owes(index, post):
                    continue
                when = first.get(member.pk)
                found[(index, post.code)] = ("missing" if when is None or when > at else
                                             "done" if when <= self.cutoff else "late")
        return found

    def judge(self, verdicts: dict[tuple[int, str], str], at: float,
              read_at: dict[tuple[int, str], float] | None = None) -> dict[str, int]:
        """The product's verdicts against the truth as of `at`: settled, open, unknown
        because of hidden comments (apart), false (a co-author called "missing" too);
        `stale`: false ones that were true when read (a late comment came after the
        product's last read of the post: `read_at` is when the verdict was written, and
        a read of a long post starts up to READ_TAKES before)."""
        tally = {"settled": 0, "open": 0, "hidden": 0, "false": 0, "stale": 0, "debts": 0}
        kinds: dict[str, int] = {}  # the false verdicts that are not stale, by kind
        hidden = {p.code for p in self.posts if any(c.hidden for c in p.comments)}
        truth = self.truth(at)
        then = read_at or {}
        for (member, code), real in truth.items():
            tally["debts"] += 1
            verdict = verdicts.get((member, code), "unknown")
            if verdict in ("unknown", "unchecked"):
                tally["hidden" if code in hidden else "open"] += 1
                continue
            tally["settled"] += 1
            if verdict != real:
                tally["false"] += 1
                read = then.get((member, code))
                if read is not None and verdict in (self.truth_of(member, code, read),
                                                    self.truth_of(member, code,
                                                                  read - READ_TAKES)):
                    tally["stale"] += 1
                else:
                    kind = self._kind(member, code, verdict, real, read)
                    kinds[kind] = kinds.get(kind, 0) + 1
        for post in self.posts:  # a co-author owes nothing: never "missing"
            if post.coauthor is not None and \
                    verdicts.get((post.coauthor, post.code)) == "missing":
                tally["false"] += 1
                kinds["missing (co-author)"] = kinds.get("missing (co-author)", 0) + 1
        return {**tally, "not_stale": dict(sorted(kinds.items()))}  # type: ignore[dict-item]

    def _kind(self, member: int, code: str, verdict: str, real: str, read: float | None
              ) -> str:
        """What a false verdict that is not stale is: the verdict and the truth, and for
        one that was true before its read (a comment came since), how long before the
        verdict was written the truth changed (a read longer than READ_TAKES)."""
        kind = f"{verdict} (truth {real})"
        when = self.first_comments(self.by_code[code]).get(self.members[member].pk)
        if read is None or when is None or when > read:
            return kind
        hours = (read - when) / 3600
        return f"{kind}, truth changed {'< 1' if hours < 1 else '1-6' if hours < 6 else '6+'}" \
            " h before the write"

    def truth_of(self, member: int, code: str, at: float) -> str:
        """One debt's truth as of `at`."""
        when = self.first_comments(self.by_code[code]).get(self.members[member].pk)
        return ("missing" if when is None or when > at else
                "done" if when <= self.cutoff else "late")

    def lower_bound(self) -> dict[str, int]:
        """Requests any reader needs at the comment deadline to settle every debt: per
        post, the comment pages from the newest (each once) up to the one holding the
        last owed commenter (a reply among a comment's previews shows on its page) when
        everyone owed commented, every page otherwise; plus, for an owed member seen
        only in a thread's later replies, that thread's pages up to theirs. A post's own
        info is not counted (it was read at submission)."""
        at, total = self.cutoff, 0
        for post in self.posts:
            tops = post.visible(at)
            first: dict[int, int] = {}  # account -> first comment page showing it
            # account -> (its comment's page, thread pages up to its reply, thread)
            in_thread: dict[int, tuple[int, int, int]] = {}
            for i, top in enumerate(reversed(tops)):  # newest first
                page = i // self.page + 1
                replies = [r for r in top.replies if r.at <= at]
                for who in (top.author, *(r.author for r in replies[:PREVIEWS])):
                    first.setdefault(who, page)
                for j, reply in enumerate(replies[PREVIEWS:], start=PREVIEWS):
                    option = (page, math.ceil((j + 1) / REPLY_PAGE), top.pk)
                    known = in_thread.get(reply.author)
                    if known is None or option[:2] < known[:2]:
                        in_thread[reply.author] = option
            owed = [m.pk for i, m in enumerate(self.members) if self.owes(i, post)]
            last, threads = 0, {}
            for pk in owed:
                if pk in first:
                    last = max(last, first[pk])
                elif pk in in_thread:
                    page, pages, thread = in_thread[pk]
                    last = max(last, page)
                    threads[thread] = max(threads.get(thread, 0), pages)
            everyone = all(pk in first or pk in in_thread for pk in owed)
            pages = last if everyone else math.ceil(len(tops) / self.page)
            total += max(1, pages) + sum(threads.values())
        return {"requests": total, "posts": len(self.posts)}

    # --- Instagram's answers -----------------------------------------------------------

    def answer(self, account: str, path: str, params: dict[str, str], at: float
               ) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of one request by `account` at `at`."""
        self.requests[account] += 1
        self.kinds[KIND.get()] += 1
        state = self.accounts.setdefault(account, Throttle())
        if state.checkpoint_at is not None:
            self.answers["challenge"] += 1
            return 400, {"message": "challenge_required", "status": "fail",
                         "challenge": {"url": "https://i.instagram.com/challenge/"}}
        if at < state.blocked_until:
            self.answers["blocked"] += 1
            return 429, {"message": "Please wait a few minutes before you try again.",
                         "status": "fail"}
        state.times.append(at)
        while state.times and state.times[0] <= at - 3600:
            state.times.popleft()
        burst = sum(1 for _ in takewhile(lambda t: t > at - BURST_WINDOW,
                                         reversed(state.times)))
        if len(state.times) > HOUR_LIMIT or burst > BURST_LIMIT:
            state.blocked_until = at + BLOCK
            self.blocks.append((account, at, at + BLOCK))
            self.answers["blocked"] += 1
            return 429, {"message": "Please wait a few minutes before you try again.",
                         "status": "fail"}
        if self.faults and self.chance.random() < self.faults:
            fault = self.chance.choices([f for f, _ in FAULTS], [w for _, w in FAULTS])[0]
            self.answers[fault] += 1
            if fault == "throttled":
                return 429, {}
            if fault == "server":
                return 502, {}
            if fault == "feedback":
                return 400, {"message": "feedback_required", "status": "fail",
                             "feedback_message": "We limit how often you can do certain "
                                                 "things on Instagram."}
            state.checkpoint_at = at
            self.checkpoints.append((account, at))
            return 400, {"message": "challenge_required", "status": "fail",
                         "challenge": {"url": "https://i.instagram.com/challenge/"}}
        status, body = self._read(path.strip("/").split("/"), params, at)
        self.answers["ok" if status == 200 else str(status)] += 1
        return status, body

    def logged_in_again(self, account: str) -> None:
        """An admin confirmed it was them and logged the account in again."""
        self.accounts.setdefault(account, Throttle()).checkpoint_at = None

    def _read(self, parts: list[str], params: dict[str, str], at: float
              ) -> tuple[int, dict[str, Any]]:
        if len(parts) == 3 and parts[0] == "users" and parts[2] == "usernameinfo":
            return self._user_info(parts[1], at)
        if len(parts) < 3 or parts[0] != "media":
            return 404, {"message": "Page not found", "status": "fail"}
        post = self.by_media.get(parts[1])
        if post is None or post.posted_at > at:
            return 404, {"message": "Media not found or unavailable", "status": "fail"}
        if parts[2] == "info":
            return 200, self._info(post, at)
        if parts[2] == "comments" and len(parts) == 3:
            return 200, self._page(post, params, at)
        if parts[2] == "comments" and len(parts) == 5 and parts[4] == "inline_child_comments":
            top = self.comment_by_pk.get(int(parts[3])) if parts[3].isdigit() else None
            if top is None or top.at > at or top.hidden or top not in post.comments:
                return 404, {"message": "Comment not found", "status": "fail"}
            return 200, self._replies(top, params, at)
        return 404, {"message": "Page not found", "status": "fail"}

    def _user(self, pk: int, at: float) -> dict[str, Any]:
        account = self.by_pk.get(pk)
        name = account.name_at(at) if account else f"fan.{pk - 9_000_000:05d}"
        return {"pk": pk, "pk_id": str(pk), "username": name, "is_private": False,
                "full_name": name}

    def _user_info(self, name: str, at: float) -> tuple[int, dict[str, Any]]:
        for account in self.members:
            if account.name_at(at) == name:
                return 200, {"user": self._user(account.pk, at), "status": "ok"}
        return 404, {"message": "User not found", "status": "fail"}

    def _info(self, post: WorldPost, at: float) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": post.pk, "id": f"{post.pk}_{self.members[post.owner].pk}", "code": post.code,
            "media_type": 1, "taken_at": int(post.posted_at),
            "user": self._user(self.members[post.owner].pk, at),
            "comment_count": post.count(at), "comments_disabled": False,
            "caption": {"text": "오늘의 일상"}}
        if post.coauthor is not None:
            item["coauthor_producers"] = [self._user(self.members[post.coauthor].pk, at)]
        return {"items": [item], "num_results": 1, "status": "ok"}

    def _comment(self, comment: Comment, at: float) -> dict[str, Any]:
        replies = [r for r in comment.replies if r.at <= at]
        return {"pk": comment.pk, "text": "좋아요 잘 보고 가요", "type": 0, "status": "Active",
                "created_at": int(comment.at), "created_at_utc": int(comment.at),
                "content_type": "comment", "user": self._user(comment.author, at),
                "child_comment_count": len(replies),
                "preview_child_comments": [self._reply(r, at) for r in replies[:PREVIEWS]]}

    def _reply(self, reply: Comment, at: float) -> dict[str, Any]:
        return {"pk": reply.pk, "text": "감사해요", "type": 2, "created_at": int(reply.at),
                "created_at_utc": int(reply.at), "parent_comment_id": reply.parent.pk
                if reply.parent else None, "user": self._user(reply.author, at)}

    def _page(self, post: WorldPost, params: dict[str, str], at: float) -> dict[str, Any]:
        """Newest first: no cursor, the newest page; `max_id`, the page just older than
        the cursor's comment; `min_id`, the page just newer."""
        shown, listed, pks = post.shown(at), post._listed(), post._shown_pks
        body: dict[str, Any] = {"comment_count": post.count(at), "caption_is_edited": False,
                                "status": "ok", "has_more_comments": False,
                                "has_more_headload_comments": False}
        newer = cursor_pk(params.get("min_id"))
        if newer is not None:
            first = bisect_right(pks, newer, 0, shown)
            page = listed[first:min(shown, first + self.page)]
            if shown - first > len(page):
                body["has_more_headload_comments"] = True
                body["next_min_id"] = cursor(page[-1].pk)
        else:
            older = cursor_pk(params.get("max_id"))
            end = shown if older is None else bisect_left(pks, older, 0, shown)
            page = listed[max(0, end - self.page):end]
            if end > len(page):
                body["has_more_comments"] = True
                body["next_max_id"] = cursor(page[0].pk)
        body["comments"] = [self._comment(c, at) for c in page]
        return body

    def _replies(self, top: Comment, params: dict[str, str], at: float) -> dict[str, Any]:
        """Oldest first: no cursor, the oldest replies; `max_id`, the next newer ones
        (tail); `min_id`, older ones (head)."""
        replies = [r for r in top.replies if r.at <= at]
        body: dict[str, Any] = {"child_comment_count": len(replies), "status": "ok",
                                "has_more_tail_child_comments": False,
                                "has_more_head_child_comments": False}
        older = cursor_pk(params.get("min_id"))
        if older is not None:
            rest = [r for r in replies if r.pk < older]
            page = rest[-REPLY_PAGE:]
            if len(rest) > len(page):
                body["has_more_head_child_comments"] = True
                body["next_min_child_cursor"] = cursor(page[0].pk)
        else:
            after = cursor_pk(params.get("max_id"))
            rest = replies if after is None else [r for r in replies if r.pk > after]
            page = rest[:REPLY_PAGE]
            if len(rest) > len(page):
                body["has_more_tail_child_comments"] = True
                body["next_max_child_cursor"] = cursor(page[-1].pk)
        body["child_comments"] = [self._reply(r, at) for r in page]
        return body

    def longest_block(self) -> float:
        """The longest time any account was blocked without a break (blocks that follow
        one another within a minute are one)."""
        longest, ends = 0.0, {}  # account -> (start, end) of its current stretch
        for account, begin, end in sorted(self.blocks, key=lambda b: b[1]):
            start, last = ends.get(account, (begin, begin))
            if begin > last + 60:
                start = begin
            ends[account] = (start, end)
            longest = max(longest, end - start)
        return longest

    def counts(self) -> dict[str, Any]:
        return {"requests": sum(self.requests.values()), "by_account": dict(self.requests),
                "by_kind": dict(self.kinds), "answers": dict(self.answers),
                "blocks": len(self.blocks), "longest_block_s": self.longest_block(),
                "checkpoints": len(self.checkpoints)}


def cursor(pk: int) -> str:
    """An opaque cursor naming a comment, as Instagram's look."""
    return f"QVFD{pk:x}"


def cursor_pk(value: str | None) -> int | None:
    """The comment a cursor names; a bare comment pk is taken too (`min_id=<pk>`)."""
    if not value:
        return None
    if value.startswith("QVFD"):
        try:
            return int(value[4:], 16)
        except ValueError:
            return None
    return int(value) if value.isdigit() else None
