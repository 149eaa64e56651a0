"""A simulated Instagram behind the gateway interface: a test double, never production.

It keeps accounts with passwords, optional 2FA and checkpoints, public and private
profiles, posts by anyone (members or not) with comments, follower graphs, share links,
Instagram-like page sizes, latency, per-account rate limits that answer like
Instagram's, and fault injection (fail the Nth call, fail a share of calls, expire a
session, hide comments so a fetch comes back short). A post's comments are served as
the mobile API serves them, page by page in the same JSON shape, and read by the same
`CommentRead` as the instagrapi adapter: comment pks grow with time (a comment added
later has a higher one), the first page holds the newest comments, `max_id` asks for
older ones and `min_id` for newer ones only, and every page carries the count, so tests
add comments between checks and see what a newer-only read costs. A post can repeat
comments across pages, send no count, start in the middle (headload pages: newer ones
by `min_id`), have comments turned off, or answer "not found" for a few reads before it
is seen again. A comment can have replies beyond
the preview sent with it, paged like `inline_child_comments/` (and those pages can start
in the middle of the thread too). Tests and `autogram chat --demo` use it.
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import itertools
import random
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.instagram.comment_pages import CommentRead
from services.instagram.errors import (
    BadCode,
    BadCredentials,
    CheckpointRequired,
    InstagramError,
    LoginLost,
    NotFound,
    PrivateProfile,
    RateLimited,
    SessionExpired,
    TwoFactorRequired,
)
from services.instagram.gateway import (
    LoginResult,
    Post,
    PostComments,
    PostInfo,
    Profile,
    Progress,
    Session,
    UserList,
    admit_request,
    meter_request,
)
from services.instagram.names import name_key
from services.week.post_links import share_token

COMMENTS_PAGE = 15  # the mobile comments endpoint pages by about this many
REPLIES_PREVIEW = 1  # a thread's first replies, sent with its comment
REPLIES_PAGE = 5  # a page of `inline_child_comments/` (small: threads page in tests)
FOLLOW_PAGE = 200  # friendships/{id}/followers asks for 200 a page


@dataclass
class SimAccount:
    username: str
    password: str = "password"
    two_factor_code: str | None = None
    checkpoint: bool = False  # the next login or call needs "it was me" (a code by e-mail)
    approve_in_app: bool = False  # logins wait until "This was me" is tapped in the app
    private: bool = False
    followers: set[str] = field(default_factory=set)
    following: set[str] = field(default_factory=set)


@dataclass
class SimPost:
    owner: str
    shortcode: str
    taken_at: datetime
    caption: str = ""
    # (username, text) or (username, text, time): a comment without a time is sent
    # without one; a time is sent as Instagram's `created_at`.
    comments: list[tuple[str, ...]] = field(default_factory=list)  # type: ignore[assignment]
    coauthors: list[str] = field(default_factory=list)  # a collab post's co-authors
    hidden: int = 0  # comments counted by Instagram but never listed (filtered, restricted)
    gone: bool = False
    comments_off: bool = False  # the owner turned comments off: 0 of 0, nobody can comment
    repeat_on_pages: bool = False  # each page repeats the previous page's last comment
    no_count: bool = False  # neither the info nor the pages carry comment_count
    headload: bool = False  # the first page is from the middle; older ones by min_id
    not_found_reads: int = 0  # the next reads answer "not found" (a passing fault)
    # Replies by the index of the comment they answer: (username, text); counted too.
    replies: dict[int, list[tuple[str, ...]]] = field(default_factory=dict)  # type: ignore[assignment]
    replies_from_middle: bool = False  # a thread's first reply page is from its middle
    # Each comment's pk, given when the simulation first lists it, by (name, text, time,
    # how many equal comments come before it): a list rebuilt keeps the pks it had.
    comment_pks: dict[tuple[object, ...], int] = field(default_factory=dict)


@dataclass
class SimConfig:
    latency: float = 0.0  # seconds each call takes
    calls_per_hour: int = 200  # per account, then 429 "Please wait a few minutes"
    retry_after: float = 3600.0


class SimulatedInstagram:
    def __init__(self, config: SimConfig | None = None, seed: int = 7, *,
                 open_signup: bool = False) -> None:
        self.config = config or SimConfig()
        # The demo: a login for an account nobody made yet makes it (any password).
        self.open_signup = open_signup
        self.accounts: dict[str, SimAccount] = {}
        self.posts: dict[str, SimPost] = {}
        self.shares: dict[str, str] = {}  # /share/ token -> shortcode
        self._sessions: dict[str, str] = {}  # token -> username
        self._pending_codes: dict[str, str] = {}  # username -> the code awaited
        # A two-factor login's identifier -> its username (Instagram's side: any client
        # that brings the identifier may send the code).
        self._two_factor: dict[str, str] = {}
        # The logins waiting for a code in this process (the client kept): username ->
        # identifier. Not shared by `another_process()`.
        self._waiting: dict[str, str] = {}
        self._calls: dict[str, deque[float]] = {}
        self._faults: dict[int, InstagramError] = {}
        self._fail_share: tuple[float, type[InstagramError]] | None = None
        self._random = random.Random(seed)
        self._counter = itertools.count(1)
        self.calls: list[tuple[str, str]] = []  # (operation, acting account)
        self._pks: dict[str, str] = {}  # name -> the pk of whoever has it now

    def pk(self, username: str) -> str:
        """The stable numeric id of whoever holds this name now (made on first sight)."""
        key = name_key(username)
        if key not in self._pks:
            self._pks[key] = str(17840000000 + next(self._counter))
        return self._pks[key]

    def rename(self, old: str, new: str) -> None:
        """The account changes its username: its pk stays, every comment, post and
        follow list shows the new name from now on (as Instagram does)."""
        old, new = name_key(old), name_key(new)
        pk = self.pk(old)
        del self._pks[old]
        self._pks[new] = pk
        account = self.accounts.pop(old, None)
        if account is not None:
            account.username = new
            self.accounts[new] = account
        for other in self.accounts.values():
            for group in (other.followers, other.following):
                if old in group:
                    group.discard(old)
                    group.add(new)
        for post in self.posts.values():
            if name_key(post.owner) == old:
                post.owner = new
            post.coauthors = [new if name_key(c) == old else c for c in post.coauthors]
            post.comments = [(new, *rest) if name_key(name) == old else (name, *rest)
                             for name, *rest in post.comments]
            post.comment_pks = {(new if name_key(str(k[0])) == old else k[0], *k[1:]): pk
                                for k, pk in post.comment_pks.items()}
            post.replies = {i: [(new, *rest) if name_key(name) == old else (name, *rest)
                                for name, *rest in thread]
                            for i, thread in post.replies.items()}

    # --- building the world --------------------------------------------------------

    def add_account(self, username: str, **fields: object) -> SimAccount:
        account = SimAccount(name_key(username), **fields)  # type: ignore[arg-type]
        self.accounts[account.username] = account
        self.pk(account.username)
        return account

    def follow(self, follower: str, followee: str) -> None:
        self.accounts[follower].following.add(followee)
        self.accounts[followee].followers.add(follower)

    def add_post(self, owner: str, shortcode: str, commenters: list[str] = (),  # type: ignore[assignment]
                 taken_at: datetime | None = None, caption: str = "") -> SimPost:
        # Names are kept as written ("Mina", "@mina"): readers must normalise them.
        post = SimPost(owner, shortcode, taken_at or datetime.now(UTC), caption,
                       [(name, "좋아요!") for name in commenters])
        self.posts[shortcode] = post
        return post

    def add_share(self, token: str, shortcode: str) -> str:
        """A /share/ link for a post; returns it as a member would paste it."""
        self.shares[token] = shortcode
        return f"https://www.instagram.com/share/p/{token}/"

    # --- fault injection -------------------------------------------------------------

    def fail_call(self, nth: int, error: InstagramError) -> None:
        """The `nth` call from now (1 = the next one) raises `error`."""
        self._faults[len(self.calls) + nth] = error

    def fail_share(self, share: float, error: type[InstagramError] = RateLimited) -> None:
        self._fail_share = (share, error) if share > 0 else None

    def expire_sessions(self, username: str) -> None:
        for token in [t for t, u in self._sessions.items() if u == name_key(username)]:
            del self._sessions[token]

    def session_for(self, username: str) -> Session:
        """A logged-in session without the login dance (fixtures, the demo)."""
        token = secrets.token_hex(8)
        self._sessions[token] = name_key(username)
        return {"simulated": True, "token": token, "username": name_key(username)}

    def discard(self, session: Session) -> None:
        self._sessions.pop(str(session.get("token")), None)

    def accept_session(self, session: Session) -> None:
        """Honour a session this simulation handed out in an earlier process (the demo
        keeps its database between runs, the simulation is rebuilt each time)."""
        token, username = session.get("token"), session.get("username")
        if session.get("simulated") and token and username:
            self._sessions[str(token)] = str(username)

    # --- the gateway -----------------------------------------------------------------

    async def _call(self, operation: str, actor: str) -> None:
        """The helper pool's admission (as a real gateway awaits it before each request),
        then latency, injected faults, checkpoints and the per-account rate limit."""
        if operation != "login":
            await admit_request()
        meter_request()
        self.calls.append((operation, actor))
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        fault = self._faults.pop(len(self.calls), None)
        if fault is not None:
            raise fault
        if self._fail_share and self._random.random() < self._fail_share[0]:
            raise self._fail_share[1]("injected")
        account = self.accounts.get(actor)
        if account is not None and account.checkpoint and operation != "login":
            raise CheckpointRequired("challenge_required")
        window = self._calls.setdefault(actor, deque())
        now = time.monotonic()
        while window and window[0] < now - 3600:
            window.popleft()
        if len(window) >= self.config.calls_per_hour:
            raise RateLimited("Please wait a few minutes before you try again.",
                              retry_after=self.config.retry_after)
        window.append(now)

    def _actor(self, session: Session) -> str:
        username = self._sessions.get(str(session.get("token")))
        if username is None:
            raise SessionExpired("login_required")
        return username

    async def login(self, username: str, password: str) -> LoginResult:
        username = name_key(username)
        await self._call("login", username)
        account = self.accounts.get(username)
        if account is None and self.open_signup:
            account = self.add_account(username, password=password)
        if account is None or account.password != password:
            raise BadCredentials("The password you entered is incorrect.")
        if account.approve_in_app:
            raise CheckpointRequired("challenge_required")
        identifier = secrets.token_hex(8)
        self._waiting[username] = identifier
        if account.checkpoint:  # like instagrapi's: the challenge waits in this process
            self._pending_codes[username] = f"{next(self._counter) % 1000000:06d}"
            raise CheckpointRequired("Enter the code we sent to your e-mail", needs_code=True)
        if account.two_factor_code:
            self._pending_codes[username] = account.two_factor_code
            self._two_factor[identifier] = username
            raise TwoFactorRequired("two_factor_required",
                                    resume={"two_factor_identifier": identifier})
        self._waiting.pop(username, None)
        return LoginResult(username, self.session_for(username), self.pk(username))

    def another_process(self) -> SimulatedInstagram:
        """The same Instagram seen from a second bot instance: accounts, posts, sessions
        and codes are shared; the logins waiting in this process are not."""
        other = copy.copy(self)
        other._waiting = {}
        return other

    def pending_code(self, username: str) -> str | None:
        """The code the simulated Instagram just "sent" (what the user would read)."""
        return self._pending_codes.get(name_key(username))

    async def submit_code(self, username: str, code: str,
                          resume: Session | None = None) -> LoginResult:
        username = name_key(username)
        await self._call("login", username)
        identifier = str((resume or {}).get("two_factor_identifier", ""))
        if self._two_factor.get(identifier) != username:  # no resume: this process's own
            identifier = self._waiting.get(username)
        expected = self._pending_codes.get(username)
        if identifier is None or expected is None:
            raise LoginLost("no login is waiting for a code here")
        if code.strip() != expected:
            raise BadCode("The security code is incorrect.")
        del self._pending_codes[username]
        self._waiting.pop(username, None)
        self._two_factor.pop(identifier, None)
        self.accounts[username].checkpoint = False
        return LoginResult(username, self.session_for(username), self.pk(username))

    async def restore(self, session: Session) -> str:
        actor = self._actor(session)
        await self._call("account_info", actor)
        return actor

    def _post(self, shortcode: str) -> SimPost:
        post = self.posts.get(shortcode)
        if post is not None and post.not_found_reads > 0:
            post.not_found_reads -= 1
            raise NotFound("Media not found or unavailable")
        if post is None or post.gone:
            raise NotFound("Media not found or unavailable")
        owner = name_key(post.owner)
        if self.accounts.get(owner, SimAccount(owner)).private:
            raise PrivateProfile("Not authorized to view user")
        return post

    @staticmethod
    def _count(post: SimPost) -> int:
        """The comments Instagram counts: listed ones, their replies, hidden ones."""
        replies = sum(len(r) for i, r in post.replies.items() if i < len(post.comments))
        return len(post.comments) + replies + post.hidden

    def _info(self, post: SimPost) -> dict[str, object]:
        count = 0 if post.comments_off else self._count(post)
        return {"code": post.shortcode, "user": self._user(post.owner),
                "coauthor_producers": [self._user(name) for name in post.coauthors],
                "comment_count": None if post.no_count else count,
                "comments_disabled": post.comments_off}

    def _user(self, name: str) -> dict[str, object]:
        return {"pk": self.pk(name), "username": name}

    def _comment(self, post: SimPost, index: int, row: tuple[str, ...], pk: int
                 ) -> dict[str, object]:
        name, text, *when = row
        comment: dict[str, object] = {"pk": str(pk), "text": text, "user": self._user(name)}
        if when and when[0] is not None:
            comment["created_at"] = int(when[0].timestamp())
        self._thread(post, index, comment)
        return comment

    def _listed(self, post: SimPost) -> list[tuple[int, int, tuple[str, ...]]]:
        """The comments Instagram lists, as (pk, index, row), oldest first: a comment the
        simulation sees for the first time gets the next pk (pks grow with time)."""
        if post.comments_off:
            return []
        seen: dict[tuple[object, ...], int] = {}
        listed = []
        for index, row in enumerate(post.comments):
            name, text, *when = row
            base = (name, text, when[0] if when else None)
            seen[base] = seen.get(base, 0) + 1
            key = (*base, seen[base])
            if key not in post.comment_pks:
                post.comment_pks[key] = 18000000000000000 + next(self._counter)
            listed.append((post.comment_pks[key], index, row))
        return sorted(listed)

    def _page(self, post: SimPost, params: dict[str, str]) -> dict[str, object]:
        """A page of a post's comments, shaped like `media/{pk}/comments/`: the newest
        ones first (or, `headload`, a page from the middle); `max_id` the ones older
        than a comment, `min_id` the ones newer (the page after it, oldest first)."""
        listed = self._listed(post)
        repeat = 1 if post.repeat_on_pages else 0  # the cursor's own comment again
        # `listed` is in pk order: a page is found by bisection (a thousand-comment
        # post read page by page would otherwise cost its length squared).
        if params.get("max_id"):
            end = bisect.bisect_left(listed, (int(params["max_id"]) + repeat,))
            rows, newer_only, older_only = listed[max(0, end - COMMENTS_PAGE):end], False, True
        elif params.get("min_id"):
            start = bisect.bisect_left(listed, (int(params["min_id"]) - repeat + 1,))
            rows, newer_only, older_only = listed[start:start + COMMENTS_PAGE], True, False
        else:
            pages = max(1, -(-len(listed) // COMMENTS_PAGE))
            middle = pages // 2 if post.headload else 0
            end = len(listed) - middle * COMMENTS_PAGE
            rows, newer_only, older_only = listed[max(0, end - COMMENTS_PAGE):end], False, False
        oldest = rows[0][0] if rows else None
        newest = rows[-1][0] if rows else None
        page: dict[str, object] = {
            "comments": [self._comment(post, index, row, pk)
                         for pk, index, row in reversed(rows)],
            "has_more_comments": not newer_only and oldest is not None
            and listed[0][0] < oldest,
            "has_more_headload_comments": not older_only and newest is not None
            and listed[-1][0] > newest,
            "comments_disabled": post.comments_off,
            "status": "ok",
        }
        if oldest is not None:
            page["next_max_id"] = str(oldest)
            page["next_min_id"] = str(newest)
        if not post.no_count:
            page["comment_count"] = self._info(post)["comment_count"]
        return page

    def _reply(self, post: SimPost, index: int, number: int) -> dict[str, object]:
        name, text, *when = post.replies[index][number]
        reply: dict[str, object] = {"pk": f"{post.shortcode}.{index}.r{number}",
                                    "text": text, "user": self._user(name)}
        if when and when[0] is not None:
            reply["created_at"] = int(when[0].timestamp())
        return reply

    def _thread(self, post: SimPost, index: int, comment: dict[str, object]) -> None:
        """A comment's reply count and preview, as sent with the comment."""
        replies = len(post.replies.get(index, []))
        comment["child_comment_count"] = replies
        comment["preview_child_comments"] = [self._reply(post, index, n)
                                             for n in range(min(REPLIES_PREVIEW, replies))]

    def _replies(self, post: SimPost, thread: str, params: dict[str, str]
                 ) -> dict[str, object]:
        """A page of one comment's replies, shaped like
        `media/{pk}/comments/{comment_pk}/inline_child_comments/`: the first page from
        the thread's start, or its middle (`replies_from_middle`), older replies by
        `min_id` (head), newer by `max_id` (tail)."""
        index = next((i for pk, i, _ in self._listed(post) if str(pk) == thread), -1)
        replies = len(post.replies.get(index, [])) if index >= 0 else 0
        pages = max(1, -(-replies // REPLIES_PAGE))
        start = pages // 2 if post.replies_from_middle else 0
        cursor = params.get("max_id") or params.get("min_id")
        number = int(cursor[1:]) if cursor else start
        first = number * REPLIES_PAGE
        return {
            "child_comments": [self._reply(post, index, n)
                               for n in range(first, min(first + REPLIES_PAGE, replies))],
            "child_comment_count": replies,
            "has_more_tail_child_comments": number >= start and number + 1 < pages,
            "next_max_child_cursor": f"r{number + 1}",
            "has_more_head_child_comments": number <= start and number > 0,
            "next_min_child_cursor": f"r{number - 1}",
            "status": "ok",
        }

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        actor = self._actor(session)
        read = resume or CommentRead()
        post: SimPost | None = None
        while (step := read.next_request()) is not None:
            await self._call(step.kind, actor)  # "info", "comments" or "replies"
            if post is None:
                post = self._post(shortcode)
            if step.kind == "info":
                read.take(step, {"items": [self._info(post)]})
                continue
            if step.kind == "replies":
                read.take(step, self._replies(post, step.thread, step.params))
                continue
            read.take(step, self._page(post, step.params))
        return read.result()

    async def post_info(self, session: Session, shortcode: str) -> PostInfo:
        actor = self._actor(session)
        await self._call("info", actor)
        post = self._post(shortcode)
        count = 0 if post.comments_off else self._count(post)
        return PostInfo(shortcode, name_key(post.owner), None if post.no_count else count,
                        post.comments_off, self.pk(post.owner),
                        {name_key(c): self.pk(c) for c in post.coauthors})

    async def profile(self, session: Session, username: str) -> Profile:
        actor = self._actor(session)
        await self._call("user_info", actor)
        key = name_key(username)
        if key not in self.accounts:
            raise NotFound("User not found")
        return Profile(self.pk(key), key)

    async def resolve_share(self, session: Session, url: str) -> str | None:
        actor = self._actor(session)
        await self._call("share", actor)
        shortcode = self.shares.get(share_token(url) or "")
        return f"https://www.instagram.com/p/{shortcode}/" if shortcode else None

    def _profile(self, actor: str, username: str) -> SimAccount:
        """A profile as `actor` may see it: not found, or private unless it is their own."""
        account = self.accounts.get(name_key(username))
        if account is None:
            raise NotFound("User not found")
        if account.private and actor != account.username:
            raise PrivateProfile("Not authorized to view user")
        return account

    async def _follow_list(self, session: Session, username: str, which: str,
                           progress: Progress | None) -> UserList:
        actor = self._actor(session)
        account = self._profile(actor, username)
        members = sorted(account.followers if which == "followers" else account.following)
        fetched: set[str] = set()
        for start in range(0, max(len(members), 1), FOLLOW_PAGE):
            await self._call(which, actor)
            fetched.update(members[start:start + FOLLOW_PAGE])
            if progress is not None:
                progress(len(fetched), len(members))
        return UserList(frozenset(fetched), len(fetched), len(members))

    async def followers(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList:
        return await self._follow_list(session, username, "followers", progress)

    async def followees(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList:
        return await self._follow_list(session, username, "following", progress)

    async def recent_posts(self, session: Session, username: str, amount: int = 6
                           ) -> list[Post]:
        actor = self._actor(session)
        account = self._profile(actor, username)
        await self._call("user_medias", actor)
        posts = sorted((p for p in self.posts.values() if name_key(p.owner) == account.username
                        and not p.gone), key=lambda p: p.taken_at, reverse=True)
        return [Post(p.shortcode, p.taken_at, p.caption, self._count(p))
                for p in posts[:amount]]

    async def comment(self, session: Session, shortcode: str, text: str) -> None:
        actor = self._actor(session)
        post = self._post(shortcode)
        await self._call("comment", actor)
        post.comments.append((actor, text))
