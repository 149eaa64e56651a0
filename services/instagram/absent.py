"""The Instagram of a process that has none (a script, a tool, a test that reads nothing).

It is a real `Instagram` with an empty helper pool and a gateway that answers every call
with `NoHelperAvailable`, so every caller takes the path it already takes when no helper
account can read ("no helper is set up"), and nothing asks whether Instagram is there.
"""

from __future__ import annotations

from typing import NoReturn

from services.instagram.errors import NoHelperAvailable
from services.instagram.gateway import Session
from services.instagram.runtime import Instagram

WHY = "Instagram is not set up in this process"


class NoGateway:
    """A `Gateway` whose every call says Instagram is not set up here."""

    async def login(self, username: str, password: str) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def submit_code(self, username: str, code: str,
                          resume: Session | None = None) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def restore(self, session: Session) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def commenters(self, session: Session, shortcode: str,
                         resume: object = None) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def post_info(self, session: Session, shortcode: str) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def profile(self, session: Session, username: str) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def resolve_share(self, session: Session, url: str) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def followers(self, session: Session, username: str,
                        progress: object = None) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def followees(self, session: Session, username: str,
                        progress: object = None) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def recent_posts(self, session: Session, username: str,
                           amount: int = 6) -> NoReturn:
        raise NoHelperAvailable(WHY)

    async def comment(self, session: Session, shortcode: str, text: str) -> NoReturn:
        raise NoHelperAvailable(WHY)

    def discard(self, session: Session) -> None:
        """Nothing is ever held."""


def no_instagram() -> Instagram:
    """An Instagram with no gateway and no helpers: every read says no helper can read."""
    return Instagram(NoGateway(), max_wait=0.0, patience=0.0)  # type: ignore[arg-type]
