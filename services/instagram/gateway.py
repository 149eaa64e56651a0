"""What the product asks of Instagram, as one interface with plain results.

Reads run on helper accounts, writes on producer accounts; every call is made *as* an
account whose session the caller holds. A list that is shorter than the count
Instagram reports comes back with `complete=False`: the verification reads that as
"unknown", never as "missing".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Session = dict[str, Any]  # a library's settings/cookies blob; stored encrypted, never logged
Progress = Callable[[int, int], None]  # (fetched so far, reported total)


@dataclass(frozen=True)
class UserList:
    """Usernames (lower-case), how many items were fetched (comments, or accounts), and
    the count Instagram reports for the same list: fewer fetched means incomplete."""

    usernames: frozenset[str]
    fetched: int
    reported: int

    @property
    def complete(self) -> bool:
        return self.fetched >= self.reported


@dataclass(frozen=True)
class Post:
    shortcode: str
    taken_at: datetime
    caption: str = ""
    comment_count: int = 0
    comments_disabled: bool = False


@dataclass
class LoginResult:
    """A finished login: the session to store (encrypted) for the account."""

    username: str
    session: Session = field(repr=False)


class Gateway(Protocol):
    async def login(self, username: str, password: str) -> LoginResult:
        """Raises TwoFactorRequired / CheckpointRequired(needs_code=True) when a code is
        needed: then call `submit_code` for the same username (the same client is kept)."""
        ...

    async def submit_code(self, username: str, code: str) -> LoginResult: ...

    async def restore(self, session: Session) -> str:
        """Check a stored session with one cheap read; returns its username."""
        ...

    async def commenters(self, session: Session, shortcode: str) -> UserList: ...

    async def followers(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList: ...

    async def followees(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList: ...

    async def recent_posts(self, session: Session, username: str, amount: int = 6
                           ) -> list[Post]: ...

    async def comment(self, session: Session, shortcode: str, text: str) -> None: ...

    def discard(self, session: Session) -> None:
        """Forget a session held in memory (a login that must leave nothing behind)."""
        ...
