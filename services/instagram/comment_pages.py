"""One post's comments assembled from the pages Instagram's mobile API sends.

The same reader serves the instagrapi adapter and the simulated Instagram, so both
decide completeness the same way: distinct comment ids (a comment repeated on two
pages counts once) against the count Instagram reports (a page without a count leaves
the total unknown, never 0), every pagination direction instagrapi itself follows
(`next_max_id` while `has_more_comments`, `next_min_id` while
`has_more_headload_comments`), and replies, which count as comments too, paged both
ways as well (`next_max_child_cursor` while `has_more_tail_child_comments`, sent as
`max_id`; `next_min_child_cursor` while `has_more_head_child_comments`, sent as `min_id`,
the one instagrapi's `media_comment_replies` follows). A cursor is followed once.

`CommentRead` is one post's read as a sequence of requests that can stop anywhere (a
rate limit, a timeout, everyone it looks for found) and go on later from the request
that failed, by another helper, or in another process: `to_state()` / `from_state()`
keep it as JSON (the verification stores it per post), so a long post is never read
again from its first page. A read that went through every page is the base of the next
one, which asks only what is newer (`newer_than`): Instagram's comment pks grow with
time, `min_id` asks for what is newer than a comment held, and a page that reaches a
comment already held ends the older (`max_id`) direction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NamedTuple

from services.instagram.errors import NotFound
from services.instagram.gateway import PostComments
from services.instagram.names import name_key

DIRECTIONS = (("has_more_comments", "next_max_id", "max_id"),
              ("has_more_headload_comments", "next_min_id", "min_id"))
REPLY_DIRECTIONS = (("has_more_tail_child_comments", "next_max_child_cursor", "max_id"),
                    ("has_more_head_child_comments", "next_min_child_cursor", "min_id"))


def comment_time(comment: dict[str, Any]) -> datetime | None:
    """A comment's own time (`created_at_utc`, else `created_at`: Unix seconds)."""
    value = comment.get("created_at_utc") or comment.get("created_at")
    try:
        return datetime.fromtimestamp(float(value), UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def user_pk(user: dict[str, Any]) -> str | None:
    """An account's numeric id as the answer gives it (`pk`, `pk_id` or `id`)."""
    value = user.get("pk") or user.get("pk_id") or user.get("id")
    return str(value) if value not in (None, "") else None


def _number(value: object) -> int | None:
    """A comment pk as a number (pks grow with time), None when it is not one."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class CommentPages:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.pks: dict[str, str] = {}  # commenter pk -> name shown
        self.times: dict[str, datetime | None] = {}  # commenter name -> first comment
        self.reported: int | None = None
        self.comments_off = False
        # (comment pk, replies Instagram counts) for threads whose replies need their pages.
        self.threads: list[tuple[str, int]] = []
        self._cursors: deque[dict[str, str]] = deque()
        self._followed: set[tuple[str, str]] = set()
        self._threads_seen: set[str] = set()
        # The newest comment seen (its pk and time) and the page cursor that asks for
        # what is newer than it (`next_min_id`, when Instagram sent one).
        self.newest_pk: str | None = None
        self.newest_at: datetime | None = None
        self.head: str | None = None
        # A newer-only read: older pages are followed only while a page holds nothing at
        # or below the newest comment of the read it builds on.
        self.floor_pk: int | None = None
        self.floor_at: datetime | None = None
        self.stale: set[str] = set()  # pks carried from that read, not shown since
        # The cursors of the newer-only pages, ("", "") for the first page: only these
        # stop at the floor (a resumed read's older pages go on below it).
        self.floored: set[tuple[str, str]] = set()
        self.reported_last: int | None = None  # the count on the latest page that had one

    def _add(self, comment: dict[str, Any]) -> None:
        user = comment.get("user") or {}
        username = name_key(str(user.get("username") or ""))
        if username:
            self.names.add(username)
            pk = user_pk(user)
            earlier = None  # the account's comments an earlier read showed under an old name
            if pk is not None:
                shown = self.pks.get(pk)
                if shown is not None and shown != username and shown in self.times:
                    earlier = (self.times[shown],)
                self.pks[pk] = username
                self.stale.discard(pk)
            for at in (comment_time(comment), *(earlier or ())):
                if username not in self.times:
                    self.times[username] = at
                else:
                    before = self.times[username]
                    if before is not None and (at is None or at < before):
                        self.times[username] = at  # no time: it may be the earliest
        pk = comment.get("pk") or comment.get("id")
        self.ids.add(str(pk) if pk is not None else f"row:{len(self.ids)}:{username}")

    def _newest(self, comment: dict[str, Any], head: str | None) -> bool:
        """Whether this comment is the newest seen so far (then `head` is its cursor)."""
        number = _number(comment.get("pk") or comment.get("id"))
        if number is None:
            return False
        if self.newest_pk is not None and number <= (_number(self.newest_pk) or 0):
            return False
        self.newest_pk = str(number)
        self.newest_at = comment_time(comment)
        self.head = head  # a cursor of an older page would ask again what is held
        return True

    def _at_floor(self, comment: dict[str, Any]) -> bool:
        """Whether a comment is at or below the newest one of the read this one builds on."""
        number = _number(comment.get("pk") or comment.get("id"))
        if self.floor_pk is not None and number is not None:
            return number <= self.floor_pk
        at = comment_time(comment)
        return self.floor_at is not None and at is not None and at <= self.floor_at

    def add_page(self, page: dict[str, Any], asked: dict[str, str] | None = None) -> None:
        """One page of `media/{pk}/comments/` (asked with `asked`'s cursor): its comments,
        previews, count, cursors."""
        cursor_of = next(((p, str(v)) for p, v in (asked or {}).items()
                          if p in ("max_id", "min_id")), ("", ""))
        floored = cursor_of in self.floored
        if page.get("comment_count") is not None:
            if self.reported is None:
                self.reported = int(page["comment_count"])
            self.reported_last = int(page["comment_count"])
        if page.get("comments_disabled"):
            self.comments_off = True
        head = str(page["next_min_id"]) if page.get("next_min_id") else None
        floor = False
        for comment in page.get("comments") or []:
            self._newest(comment, head)
            floor = floor or (floored and self._at_floor(comment))
            self._add(comment)
            previews = comment.get("preview_child_comments") or []
            for child in previews:
                self._add(child)
            replies = int(comment.get("child_comment_count") or 0)
            thread = str(comment.get("pk"))
            if replies > len(previews) and thread not in self._threads_seen:
                self._threads_seen.add(thread)  # a comment sent on two pages: read once
                self.threads.append((thread, replies))
        for flag, key, param in DIRECTIONS:
            cursor = page.get(key)
            if param == "max_id" and floor:
                continue  # older than this is what the read it builds on holds
            if page.get(flag) and cursor and (param, str(cursor)) not in self._followed:
                self._followed.add((param, str(cursor)))
                if floored:
                    self.floored.add((param, str(cursor)))
                self._cursors.append({param: str(cursor)})

    def to_state(self) -> dict[str, Any]:
        """JSON-safe data for `from_state`. The names are left out when they are the
        commenters `times` holds (as `_add` keeps them): a thousand-member post's state
        is ~100 kB, encoded and decoded on the event loop at every read."""
        names = None if self.names == self.times.keys() else sorted(self.names)
        return {
            "ids": sorted(self.ids), **({"names": names} if names is not None else {}),
            "pks": self.pks,
            "times": {name: _iso(at) for name, at in self.times.items()},
            "reported": self.reported, "comments_off": self.comments_off,
            "threads": [list(t) for t in self.threads], "cursors": list(self._cursors),
            "followed": sorted(list(f) for f in self._followed),
            "threads_seen": sorted(self._threads_seen), "newest_pk": self.newest_pk,
            "newest_at": _iso(self.newest_at), "head": self.head, "floor_pk": self.floor_pk,
            "floor_at": _iso(self.floor_at), "stale": sorted(self.stale),
            "reported_last": self.reported_last,
            "floored": sorted(list(f) for f in self.floored),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> CommentPages:
        pages = cls()
        pages.ids = set(state.get("ids") or [])
        pages.pks = dict(state.get("pks") or {})
        pages.times = {name: _from_iso(at) for name, at in (state.get("times") or {}).items()}
        names = state.get("names")
        pages.names = set(names) if names is not None else set(pages.times)
        pages.reported = state.get("reported")
        pages.comments_off = bool(state.get("comments_off"))
        pages.threads = [(str(pk), int(n)) for pk, n in state.get("threads") or []]
        pages._cursors = deque(dict(c) for c in state.get("cursors") or [])
        pages._followed = {(str(p), str(c)) for p, c in state.get("followed") or []}
        pages._threads_seen = set(state.get("threads_seen") or [])
        pages.newest_pk = state.get("newest_pk")
        pages.newest_at = _from_iso(state.get("newest_at"))
        pages.head = state.get("head")
        pages.floor_pk = state.get("floor_pk")
        pages.floor_at = _from_iso(state.get("floor_at"))
        pages.stale = set(state.get("stale") or [])
        pages.reported_last = state.get("reported_last")
        pages.floored = {(str(p), str(c)) for p, c in state.get("floored") or []}
        return pages

    def next_page(self) -> dict[str, str] | None:
        """The parameters of the next page to ask for, in any direction (None: done)."""
        return self._cursors.popleft() if self._cursors else None

    def add_replies(self, page: dict[str, Any]) -> list[tuple[str, str]]:
        """One page of a thread's replies; the (param, cursor) of its next pages, in
        every direction it flags."""
        for child in page.get("child_comments") or []:
            self._add(child)
        return [(param, str(page[key])) for flag, key, param in REPLY_DIRECTIONS
                if page.get(flag) and page.get(key)]

    def result(self, author: str | None, info: dict[str, Any] | None = None) -> PostComments:
        """What was read, with the post's info (author, count, comment state) if asked."""
        info = info or {}
        reported = self.reported
        if reported is None and info.get("comment_count") is not None:
            reported = int(info["comment_count"])
        off = self.comments_off or bool(info.get("comments_disabled")) or (
            bool(info.get("commenting_disabled_for_viewer")) and not reported and not self.ids)
        return PostComments(name_key(author) if author else None, frozenset(self.names),
                            len(self.ids), reported, off,
                            user_pk(info.get("user") or {}) if author else None,
                            coauthors_of(info), dict(self.pks), dict(self.times),
                            frozenset(self.stale))


def coauthors_of(info: dict[str, Any]) -> dict[str, str | None]:
    """A collab post's co-authors (name -> pk): those who accepted and those invited."""
    found: dict[str, str | None] = {}
    for key in ("coauthor_producers", "invited_coauthor_producers"):
        for user in info.get(key) or []:
            if isinstance(user, dict) and user.get("username"):
                found[name_key(str(user["username"]))] = user_pk(user)
    return found


class Step(NamedTuple):
    """One request of a post's read: the post's info, a page of comments, or a page of
    one thread's replies."""

    kind: str  # "info", "comments" or "replies"
    params: dict[str, str]
    thread: str = ""  # the comment whose replies are asked for

    def path(self, pk: str) -> str:
        if self.kind == "info":
            return f"media/{pk}/info/"
        if self.kind == "comments":
            return f"media/{pk}/comments/"
        return f"media/{pk}/comments/{self.thread}/inline_child_comments/"


Stop = Callable[["CommentRead"], bool]


class CommentRead:
    """A post read request by request: the info, every page in every direction, then
    the replies Instagram did not preview. Answers are taken one at a time by whoever
    reads (an attempt given up never takes the answer it was waiting for).

    `info`: the post's author and co-authors as already known (the submission's own
    read): no info request is sent, the result names no author (the post is taken as
    handed in). `stop`: asked before each request once a page of comments is held;
    True ends the read there (everyone it looks for is found), leaving it resumable."""

    def __init__(self, *, info: dict[str, Any] | None = None, stop: Stop | None = None) -> None:
        self.pages = CommentPages()
        self.info: dict[str, Any] | None = info
        self.info_asked = False  # the info came from Instagram in this read
        self.stop = stop
        self.answers = 0  # responses taken: tells a read that advanced from one that did not
        self._comments: dict[str, str] | None = {}  # the next page's cursor (None: done)
        self._thread = 0
        # The thread's pages still to ask for, as (param, cursor) ("" for the first page),
        # and every one ever queued (a cursor sent back again is not followed twice).
        self._reply_pages: deque[tuple[str, str]] = deque([("", "")])
        self._reply_queued: set[tuple[str, str]] = {("", "")}
        self._pages_taken = 0
        self._then: dict[str, str] | None = None  # the page to ask once the queue is empty
        # Taken up again after a pause: the post may have changed in between.
        self.resumed = False
        # A newer-only read: (distinct comments, count Instagram reported) of the read
        # it builds on (None: a read from the first page).
        self.base: tuple[int, int | None] | None = None

    @classmethod
    def newer_than(cls, state: dict[str, Any], *, reported: int | None,
                   stop: Stop | None = None) -> CommentRead:
        """The read after `state` (a read that went through every page, whose count was
        `reported`: None when it had none or it did not add up): what is newer than its
        newest comment, from its head cursor when it has one, else from the first page
        down to a comment it holds; then the new threads' replies. What it found is
        kept: the result is the whole post as both reads saw it."""
        done = cls.from_state(state, stop=stop)
        read = cls(info=done.info if done.info is not None else {}, stop=stop)
        old, pages = done.pages, read.pages
        pages.ids, pages.names, pages.pks, pages.times = old.ids, old.names, old.pks, old.times
        pages.stale = set(old.pks)  # the names they showed then may be outdated now
        pages.comments_off = False
        pages.threads = list(old.threads)
        pages._threads_seen = set(old._threads_seen)
        pages.newest_pk, pages.newest_at, pages.head = old.newest_pk, old.newest_at, old.head
        pages.floor_pk = _number(old.newest_pk) if old.newest_pk is not None else None
        pages.floor_at = old.newest_at
        read._thread = len(pages.threads)  # the threads it read are not read again
        read._comments = {"min_id": old.head} if old.head else {}
        pages.floored.add(("min_id", old.head) if old.head else ("", ""))
        if old.head:
            pages._followed.add(("min_id", old.head))
        read.base = (len(old.ids), reported)
        return read

    def from_first_page(self, *, stop: Stop | None = None) -> CommentRead:
        """This post read again from its first page, with the info this read holds (not
        asked again) and whether Instagram gave it: a read whose info was asked still
        names the author, so a post by someone else is still seen as such. The info's
        count is left out: it may be days old, only the new pages' count measures them."""
        info = None
        if self.info is not None:
            info = {key: value for key, value in self.info.items() if key != "comment_count"}
        read = CommentRead(info=info, stop=stop)
        read.info_asked = self.info_asked and info is not None
        return read

    @property
    def finished(self) -> bool:
        """Every request of the read was answered (not merely stopped early)."""
        return self._next() is None

    @property
    def new_comments(self) -> int:
        """Distinct comments found beyond the read this one builds on (0: not one)."""
        return len(self.pages.ids) - self.base[0] if self.base is not None else 0

    @property
    def adds_up(self) -> bool:
        """A newer-only read: the count grew by exactly the comments it found newer, so
        the list is as complete as the one it builds on was (not: comments deleted, or
        replies in old threads, or no count)."""
        if self.base is None:
            return True
        _, reported = self.base
        now = self.pages.reported
        return reported is not None and now is not None and now - reported == self.new_comments

    def next_request(self) -> Step | None:
        """The request to send next (None: the read is finished, or stopped)."""
        step = self._next()
        if step is not None and step.kind != "info" and self.stop is not None \
                and self._pages_taken and self.stop(self):
            return None
        return step

    def _next(self) -> Step | None:
        if self.info is None:
            return Step("info", {})
        if self._comments is not None:
            return Step("comments", {"can_support_threading": "true",
                                     "permalink_enabled": "false", **self._comments})
        while self._thread < len(self.pages.threads):
            if self._reply_pages:
                param, cursor = self._reply_pages[0]
                return Step("replies", {param: cursor} if param else {},
                            self.pages.threads[self._thread][0])
            self._thread += 1
            self._reply_pages, self._reply_queued = deque([("", "")]), {("", "")}
        return None

    def take(self, step: Step, body: dict[str, Any]) -> None:
        """The answer to `step`."""
        if step.kind == "info":
            items = body.get("items") or []
            if not items:
                raise NotFound("Media not found or unavailable")
            self.info = dict(items[0])
            self.info_asked = True
        elif step.kind == "comments":
            self.pages.add_page(body, step.params)
            self._comments = self.pages.next_page()
            if self._comments is None and self._then is not None:
                self._comments, self._then = self._then, None
        else:
            self._reply_pages.popleft()
            for cursor in self.pages.add_replies(body):
                if cursor not in self._reply_queued:
                    self._reply_queued.add(cursor)
                    self._reply_pages.append(cursor)
        self.answers += 1
        self._pages_taken += step.kind != "info"

    def result(self) -> PostComments:
        """What was read so far (the whole post once `finished`). A newer-only read whose
        count does not add up reports no count: its list is never taken as complete; a
        read taken up again is measured against the latest count."""
        info = self.info or {}
        author = str((info.get("user") or {}).get("username") or "") or None
        if not self.info_asked:
            author, info = None, {"comments_disabled": info.get("comments_disabled")}
        result = self.pages.result(author, info)
        pages = self.pages
        if self.base is not None and not self.adds_up:
            result = replace(result, reported=None)  # the list may lack a comment
        elif self.resumed and pages.reported_last is not None:
            # Taken up again later (its newer comments asked too): the latest count.
            result = replace(result, reported=pages.reported_last)
        return result

    def to_state(self) -> dict[str, Any]:
        """The read as JSON-safe data (times as ISO text), for `from_state`; a finished
        read's without its stale pks (the next read, `newer_than`, counts every pk it
        holds as stale)."""
        pages = self.pages.to_state()
        if self.finished:
            del pages["stale"]
        info = None
        if self.info is not None:
            info = {key: self.info[key] for key in INFO_KEPT if key in self.info}
            for key in ("coauthor_producers", "invited_coauthor_producers"):
                if key in info:
                    info[key] = [{"pk": user_pk(u), "username": u.get("username")}
                                 for u in info[key] or [] if isinstance(u, dict)]
            if isinstance(info.get("user"), dict):
                user = info["user"]
                info["user"] = {"pk": user_pk(user), "username": user.get("username")}
        return {
            "version": 1, "info": info, "info_asked": self.info_asked,
            "answers": self.answers, "comments": self._comments, "thread": self._thread,
            "reply_pages": [list(p) for p in self._reply_pages],
            "reply_queued": sorted(list(p) for p in self._reply_queued),
            "pages_taken": self._pages_taken, "then": self._then,
            "base": list(self.base) if self.base is not None else None,
            "pages": pages,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], *, stop: Stop | None = None) -> CommentRead:
        """A read kept by `to_state`, going on from its next request (no info again)."""
        read = cls(info=state.get("info"), stop=stop)
        read.info_asked = bool(state.get("info_asked"))
        read.answers = int(state.get("answers") or 0)
        read._comments = state.get("comments")
        read._thread = int(state.get("thread") or 0)
        read._reply_pages = deque((str(p), str(c)) for p, c in state.get("reply_pages") or [])
        read._reply_queued = {(str(p), str(c)) for p, c in state.get("reply_queued") or []}
        # Counted afresh: a read taken up again asks at least one page before it may stop
        # (each check asks Instagram once at least: how a deleted post is noticed).
        read._pages_taken = 0
        read._then = state.get("then")
        read.resumed = True
        base = state.get("base")
        read.base = (int(base[0]), base[1]) if base else None
        read.pages = pages = CommentPages.from_state(state.get("pages") or {})
        if pages.newest_pk is not None:
            # Comments made since it stopped are newer than any it holds: asked too,
            # down to its newest one, as a newer-only read would. Asked again each time
            # it is taken up: a read taken up before (and cut again) asked then, and its
            # answer (and the count on it) says nothing of the comments made since.
            pages.floor_pk = _number(pages.newest_pk)
            pages.floor_at = pages.newest_at
            newer = ("min_id", pages.head) if pages.head else ("", "")
            pages.floored.add(newer)
            step = {newer[0]: newer[1]} if newer[0] else {}
            if read._comments is None:
                read._comments = step
            elif read._comments != step:
                read._then = step  # once the pages it had queued are read
        return read


# What a kept read holds of the post's info (the rest of Instagram's answer is not needed).
INFO_KEPT = ("user", "coauthor_producers", "invited_coauthor_producers", "comment_count",
             "comments_disabled", "commenting_disabled_for_viewer")
