"""The one place where Instagram usernames are normalised.

Instagram names are case-insensitive and people write them with a leading '@'; every
comparison of two names (a commenter against a member, a post's author against the
member who handed it in) goes through `name_key`, on both sides, whoever read them.
"""

from __future__ import annotations

import re
import sys

# 1-30 letters, digits, periods and underscores; no leading/trailing or double period.
USERNAME = re.compile(r"^(?!\.)(?!.*\.\.)(?!.*\.$)[a-z0-9._]{1,30}$")
PROFILE_LINK = re.compile(r"^(?:https?://)?(?:www\.)?instagram\.com/([^/?#]+)/?(?:[?#].*)?$")


def name_key(name: str) -> str:
    """The form two names are compared in: `@Kim.Minji ` -> `kim.minji`. Interned: a
    member's name read from thousands of comment pages is kept once."""
    return sys.intern(name.strip().removeprefix("@").strip().lower())


def as_typed(text: str) -> str:
    """A name echoed back as the person wrote it, without its '@' (`@Kim.Minji` ->
    `Kim.Minji`): for answers about a name that may not be anyone's."""
    return text.strip().lstrip("@")


def normalize_username(text: str) -> str | None:
    """`@Kim.Minji` or an instagram.com profile link -> `kim.minji`; None when not a username."""
    value = text.strip()
    match = PROFILE_LINK.match(value)
    if match:
        value = match.group(1)
    value = name_key(value)
    return value if USERNAME.match(value) else None
