"""Instagram post links as members paste them: recognise, normalise, or say what is wrong.

Accepted: http/https or no scheme; instagram.com with or without www./m., and instagr.am;
/p/, /reel/, /reels/, /tv/ (also behind a /username/ prefix) with any query string
(?igsh=, img_index=, utm_*) and trailing slashes. /share/ links carry a token, not a
shortcode: they are kept and resolved to their post through the Instagram gateway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

# The hosts a post link may have, written once: the patterns below are built from it.
INSTAGRAM_HOSTS = frozenset({"instagram.com", "www.instagram.com", "m.instagram.com",
                             "instagr.am", "www.instagr.am"})
# Any of them, longest first (so "www.instagram.com" is not read as "instagram.com").
HOST = "(?:" + "|".join(re.escape(host) for host in sorted(
    INSTAGRAM_HOSTS, key=lambda host: (-len(host), host))) + ")"
POST_KINDS = {"p", "reel", "reels", "tv"}
SHORTCODE = re.compile(r"^[A-Za-z0-9_-]{5,64}$")
USERNAME = re.compile(r"^[A-Za-z0-9._]{1,30}$")
# What can never be part of a link as people paste it in Korean chats: white space,
# brackets and quotes of every kind, and Hangul glued right after it ("…/p/CODE입니다").
NOT_IN_LINK = (r"\s<>\"'`()\[\]{}「」『』【】〈〉《》（）［］｛｝“”‘’"
               r"\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3")
LINK_IN_TEXT = re.compile(rf"(?:https?://)?{HOST}/[^{NOT_IN_LINK}]*", re.IGNORECASE)
ANY_OUTSIDE_CHAR = re.compile(f"[{NOT_IN_LINK}]")
# The shape nearly every pasted link has, read without taking the URL apart.
PLAIN_POST = re.compile(
    rf"^(?:https?://)?{HOST}/(?:p|reels?|tv)/([A-Za-z0-9_-]{{5,64}})"
    rf"(?:[/?#][^{NOT_IN_LINK}]*)?$", re.IGNORECASE)
HAS_SCHEME = re.compile(r"^https?://", re.IGNORECASE)
ANY_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+/\S*", re.IGNORECASE)
SHARE_PREFIX = "share:"


class LinkProblem(Enum):
    NOT_A_LINK = "not_a_link"
    OTHER_DOMAIN = "other_domain"
    PROFILE = "profile"
    STORY = "story"
    HIGHLIGHT = "highlight"
    MALFORMED = "malformed"


@dataclass(frozen=True)
class PostLink:
    url: str  # normalised
    shortcode: str  # for a share link: "share:<token>" until resolved

    @property
    def is_share(self) -> bool:
        return self.shortcode.startswith(SHARE_PREFIX)


def find_links(text: str) -> list[str]:
    """Every Instagram link in a message (a chat message may hold several)."""
    return [m.group(0).rstrip(".,!?…~:;") for m in LINK_IN_TEXT.finditer(text)]


def share_token(url: str) -> str | None:
    """The token of a /share/ link (None: not one)."""
    parsed = parse_post_link(url)
    return parsed.shortcode.removeprefix(SHARE_PREFIX) if isinstance(parsed, PostLink) \
        and parsed.is_share else None


def looks_like_link(text: str) -> bool:
    return bool(ANY_URL.search(text.strip()))


def parse_post_link(text: str) -> PostLink | LinkProblem:
    raw = text.strip()
    plain = PLAIN_POST.match(raw)
    if plain:
        code = plain.group(1)
        return PostLink(f"https://www.instagram.com/p/{code}/", code)
    if not raw or ANY_OUTSIDE_CHAR.search(raw):
        found = find_links(raw)
        if len(found) != 1:
            return LinkProblem.NOT_A_LINK if not looks_like_link(raw) else _outside(raw)
        raw = found[0]
    if not HAS_SCHEME.match(raw):
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
    except ValueError:
        return LinkProblem.MALFORMED
    host = (parts.hostname or "").lower()
    if "." not in host:
        return LinkProblem.NOT_A_LINK
    if host not in INSTAGRAM_HOSTS:
        return LinkProblem.OTHER_DOMAIN
    segments = [s for s in parts.path.split("/") if s]
    return _from_segments(segments)


def _outside(raw: str) -> LinkProblem:
    return LinkProblem.OTHER_DOMAIN if looks_like_link(raw) else LinkProblem.NOT_A_LINK


def _from_segments(segments: list[str]) -> PostLink | LinkProblem:
    if not segments:
        return LinkProblem.MALFORMED
    head = segments[0].lower()
    if head == "stories":
        if len(segments) > 1 and segments[1].lower() == "highlights":
            return LinkProblem.HIGHLIGHT
        return LinkProblem.STORY
    if head == "s":  # instagram.com/s/<id>: a shared highlight
        return LinkProblem.HIGHLIGHT
    if head == "share":
        token = segments[-1] if len(segments) > 1 else ""
        if not SHORTCODE.match(token):
            return LinkProblem.MALFORMED
        kind = segments[1].lower() if len(segments) > 2 else ""
        path = f"share/{kind}/{token}" if kind else f"share/{token}"
        return PostLink(f"https://www.instagram.com/{path}/", SHARE_PREFIX + token)
    if head in POST_KINDS:
        return _post(segments[1:])
    if len(segments) >= 2 and segments[1].lower() in POST_KINDS and USERNAME.match(segments[0]):
        if len(segments) == 2:
            return LinkProblem.PROFILE  # instagram.com/<username>/reels/: a profile tab
        return _post(segments[2:])  # instagram.com/<username>/p/<code>/
    if len(segments) == 1 and USERNAME.match(segments[0]):
        return LinkProblem.PROFILE
    if len(segments) >= 2 and USERNAME.match(segments[0]) and segments[1].lower() in {
        "reels", "tagged", "saved", "followers", "following"
    }:
        return LinkProblem.PROFILE
    return LinkProblem.MALFORMED


def _post(rest: list[str]) -> PostLink | LinkProblem:
    if not rest or not SHORTCODE.match(rest[0]):
        return LinkProblem.MALFORMED
    code = rest[0]
    return PostLink(f"https://www.instagram.com/p/{code}/", code)
