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
rate limit, a timeout) and go on later from the request that failed, by another helper:
a long post is never read again from its first page.
"""

from __future__ import annotations

from collections import deque
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

    def _add(self, comment: dict[str, Any]) -> None:
        user = comment.get("user") or {}
        username = name_key(str(user.get("username") or ""))
        if username:
            self.names.add(username)
            pk = user_pk(user)
            if pk is not None:
                self.pks[pk] = username
            at = comment_time(comment)
            if username not in self.times:
                self.times[username] = at
            else:
                before = self.times[username]
                if before is not None and (at is None or at < before):
                    self.times[username] = at  # no time: it may be the earliest
        pk = comment.get("pk") or comment.get("id")
        self.ids.add(str(pk) if pk is not None else f"row:{len(self.ids)}:{username}")

    def add_page(self, page: dict[str, Any]) -> None:
        """One page of `media/{pk}/comments/`: its comments, previews, count, cursors."""
        if self.reported is None and page.get("comment_count") is not None:
            self.reported = int(page["comment_count"])
        if page.get("comments_disabled"):
            self.comments_off = True
        for comment in page.get("comments") or []:
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
            if page.get(flag) and cursor and (param, str(cursor)) not in self._followed:
                self._followed.add((param, str(cursor)))
                self._cursors.append({param: str(cursor)})

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
                            coauthors_of(info), dict(self.pks), dict(self.times))


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


class CommentRead:
    """A post read request by request: the info, every page in every direction, then
    the replies Instagram did not preview. Answers are taken one at a time by whoever
    reads (an attempt given up never takes the answer it was waiting for)."""

    def __init__(self) -> None:
        self.pages = CommentPages()
        self.info: dict[str, Any] | None = None
        self.answers = 0  # responses taken: tells a read that advanced from one that did not
        self._comments: dict[str, str] | None = {}  # the next page's cursor (None: done)
        self._thread = 0
        # The thread's pages still to ask for, as (param, cursor) ("" for the first page),
        # and every one ever queued (a cursor sent back again is not followed twice).
        self._reply_pages: deque[tuple[str, str]] = deque([("", "")])
        self._reply_queued: set[tuple[str, str]] = {("", "")}

    def next_request(self) -> Step | None:
        """The request to send next (None: the read is finished)."""
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
        elif step.kind == "comments":
            self.pages.add_page(body)
            self._comments = self.pages.next_page()
        else:
            self._reply_pages.popleft()
            for cursor in self.pages.add_replies(body):
                if cursor not in self._reply_queued:
                    self._reply_queued.add(cursor)
                    self._reply_pages.append(cursor)
        self.answers += 1

    def result(self) -> PostComments:
        """The finished read (call once `next_request` is None)."""
        info = self.info or {}
        author = str((info.get("user") or {}).get("username") or "") or None
        return self.pages.result(author, info)
