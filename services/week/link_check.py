"""A post link looked at on Instagram before it is handed in, outside any transaction.

Two things need Instagram at submission: a `/share/` link must become the post's own
link (verification can only read a shortcode), and the post's author (or one of its
co-authors) should be the member (a repost of another member's link, or anyone's post,
is refused). Both are tried only as far as they are cheap: the share redirect by a
plain request first, a helper second; the post's info (author, co-authors and their
pks, in one request) only when a helper is free at once. Both may use only the share of
a helper's hour kept for what members ask for (ASKED_SHARE), so submissions never eat
what the final check needs. What could not be looked at is left to the verification,
which reads the author again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from services.instagram.errors import InstagramError
from services.instagram.gateway import PostInfo
from services.instagram.pool import ASKED_SHARE
from services.instagram.runtime import Instagram
from services.week.post_links import LinkProblem, PostLink, parse_post_link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckedLink:
    link: PostLink
    info: PostInfo | None = None  # None: not read now (no helper free, or a passing fault)
    unresolved_share: bool = False  # a /share/ link whose post could not be found

    @property
    def author(self) -> str | None:
        return self.info.author or None if self.info is not None else None


async def check_link(instagram: Instagram, link: PostLink) -> CheckedLink:
    if link.is_share:
        resolved = await _resolve_share(instagram, link)
        if resolved is None:
            return CheckedLink(link, unresolved_share=True)
        link = resolved
    return CheckedLink(link, await _info(instagram, link))


async def check_links(instagram: Instagram, links: list[PostLink | LinkProblem]
                      ) -> list[CheckedLink | LinkProblem]:
    """Each post link of one message looked at, in order (a problem stays as it is)."""
    return [await check_link(instagram, link) if isinstance(link, PostLink) else link
            for link in links]


def needs_instagram(instagram: Instagram, link: PostLink) -> bool:
    """Whether a look at Instagram is due (and possible) for this link now."""
    return link.is_share or instagram.pool.free_now(share=ASKED_SHARE)


async def _resolve_share(instagram: Instagram, link: PostLink) -> PostLink | None:
    if instagram.shares is not None:
        found = await instagram.shares.resolve(link)
        if found is not None:
            return found
    if not instagram.pool.helpers:
        return None
    try:
        url = await instagram.pool.run(
            lambda s: instagram.gateway.resolve_share(s, link.url), max_wait=5.0,
            share=ASKED_SHARE)
    except InstagramError as exc:
        log.info("a helper could not resolve a share link: %s", exc.code)
        return None
    parsed = parse_post_link(url) if url else LinkProblem.MALFORMED
    return parsed if isinstance(parsed, PostLink) and not parsed.is_share else None


async def _info(instagram: Instagram, link: PostLink) -> PostInfo | None:
    if not instagram.pool.free_now(share=ASKED_SHARE):
        return None
    try:
        info = await instagram.pool.run(
            lambda s: instagram.gateway.post_info(s, link.shortcode), max_wait=0.0,
            share=ASKED_SHARE)
    except InstagramError as exc:  # the verification reads it again
        log.info("the author of a submitted post was not read: %s", exc.code)
        return None
    return info if info.author else None
