"""One post's comments assembled from the pages Instagram's mobile API sends.

The same reader serves the instagrapi adapter and the simulated Instagram, so both
decide completeness the same way: distinct comment ids (a comment repeated on two
pages counts once) against the count Instagram reports (a page without a count leaves
the total unknown, never 0), every pagination direction instagrapi itself follows
(`next_max_id` while `has_more_comments`, `next_min_id` while
`has_more_headload_comments`), and replies, which count as comments too.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from services.instagram.gateway import PostComments
from services.instagram.names import name_key

DIRECTIONS = (("has_more_comments", "next_max_id", "max_id"),
              ("has_more_headload_comments", "next_min_id", "min_id"))


class CommentPages:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.reported: int | None = None
        self.comments_off = False
        # (comment pk, replies Instagram counts) for threads whose replies need their pages.
        self.threads: list[tuple[str, int]] = []
        self._cursors: deque[dict[str, str]] = deque()
        self._followed: set[tuple[str, str]] = set()

    def _add(self, comment: dict[str, Any]) -> None:
        user = comment.get("user") or {}
        username = name_key(str(user.get("username") or ""))
        if username:
            self.names.add(username)
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
            if replies > len(previews):
                self.threads.append((str(comment.get("pk")), replies))
        for flag, key, param in DIRECTIONS:
            cursor = page.get(key)
            if page.get(flag) and cursor and (param, str(cursor)) not in self._followed:
                self._followed.add((param, str(cursor)))
                self._cursors.append({param: str(cursor)})

    def next_page(self) -> dict[str, str] | None:
        """The parameters of the next page to ask for, in any direction (None: done)."""
        return self._cursors.popleft() if self._cursors else None

    def add_replies(self, page: dict[str, Any]) -> str | None:
        """One page of a thread's replies; the cursor of its next page, if any."""
        for child in page.get("child_comments") or []:
            self._add(child)
        cursor = page.get("next_max_child_cursor")
        return str(cursor) if page.get("has_more_tail_child_comments") and cursor else None

    def result(self, author: str | None, info: dict[str, Any] | None = None) -> PostComments:
        """What was read, with the post's info (author, count, comment state) if asked."""
        info = info or {}
        reported = self.reported
        if reported is None and info.get("comment_count") is not None:
            reported = int(info["comment_count"])
        off = self.comments_off or bool(info.get("comments_disabled")) or (
            bool(info.get("commenting_disabled_for_viewer")) and not reported and not self.ids)
        return PostComments(name_key(author) if author else None, frozenset(self.names),
                            len(self.ids), reported, off)
