"""`/share/` links resolved to the post they point at.

A share link carries a token, not a shortcode, so verification could never read it.
At submission a plain GET without login (redirects not followed, through
`INSTAGRAM_PROXY` when set) answers with a redirect whose `Location` is the post's own
URL; when Instagram sends anonymous clients to its login page instead, the caller asks
a helper (`Gateway.resolve_share`), and failing that the member is asked for the
post's own link.
"""

from __future__ import annotations

import logging
from urllib.parse import urljoin, urlsplit

import aiohttp

from services.week.post_links import LinkProblem, PostLink, parse_post_link

log = logging.getLogger(__name__)
INSTAGRAM_WEB = "https://www.instagram.com"
MAX_HOPS = 3


def post_url_from_location(location: str) -> str | None:
    """A redirect's target, if it is a post's own link (not a login page, not a share)."""
    if not location:
        return None
    parsed = parse_post_link(urljoin(INSTAGRAM_WEB + "/", location))
    if isinstance(parsed, LinkProblem) or parsed.is_share:
        return None
    return parsed.url


class ShareResolver:
    def __init__(self, web_root: str | None = INSTAGRAM_WEB, *, proxy: str | None = None,
                 timeout: float = 10.0) -> None:
        # None: no plain request is tried (the demo, which has no network).
        self.web_root = web_root.rstrip("/") if web_root else None
        self.proxy = proxy
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def resolve(self, link: PostLink) -> PostLink | None:
        """The post behind a share link, by its redirect; None when none was given."""
        if self.web_root is None:
            return None
        url = self.web_root + urlsplit(link.url).path
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                for _ in range(MAX_HOPS):
                    async with http.get(url, allow_redirects=False, proxy=self.proxy,
                                        headers={"User-Agent": "Mozilla/5.0"}) as response:
                        location = response.headers.get("Location", "")
                    if response.status not in (301, 302, 303, 307, 308) or not location:
                        return None
                    found = post_url_from_location(location)
                    if found is not None:
                        parsed = parse_post_link(found)
                        return parsed if isinstance(parsed, PostLink) else None
                    target = urljoin(url, location)
                    if "/share/" not in urlsplit(target).path:
                        return None  # the login page, or anything else: not resolved
                    url = target
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("share link not resolved by a plain request: %s", type(exc).__name__)
        return None
