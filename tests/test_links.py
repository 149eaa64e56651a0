"""Real-world link shapes members paste, with the outcome each must get."""

from __future__ import annotations

import pytest

from services.week.post_links import (
    INSTAGRAM_HOSTS,
    LinkProblem,
    PostLink,
    find_links,
    parse_post_link,
)

P = "https://www.instagram.com/p/{}/"
OK = [
    ("https://www.instagram.com/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("http://www.instagram.com/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("https://instagram.com/p/C1a2B3c4D5e", P.format("C1a2B3c4D5e")),
    ("instagram.com/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("www.instagram.com/p/C1a2B3c4D5e", P.format("C1a2B3c4D5e")),
    ("https://m.instagram.com/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/p/C1a2B3c4D5e/?igsh=MTc4MmM1YmI2Ng==", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/p/C1a2B3c4D5e/?img_index=2", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/p/C1a2B3c4D5e/?utm_source=ig_web_copy_link&utm_medium=x",
     P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/p/C1a2B3c4D5e//", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/reel/C9xYz_-AbCd/", P.format("C9xYz_-AbCd")),
    ("https://www.instagram.com/reel/C9xYz_-AbCd/?igsh=abc", P.format("C9xYz_-AbCd")),
    ("https://www.instagram.com/reels/C9xYz_-AbCd/", P.format("C9xYz_-AbCd")),
    ("https://www.instagram.com/tv/B7tVvQkJ1aB/", P.format("B7tVvQkJ1aB")),
    ("https://instagr.am/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("http://instagr.am/p/C1a2B3c4D5e", P.format("C1a2B3c4D5e")),
    ("HTTPS://WWW.INSTAGRAM.COM/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/kim.minji/p/C1a2B3c4D5e/", P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/p/C1a2B3c4D5e/#comments", P.format("C1a2B3c4D5e")),
    ("  https://www.instagram.com/p/C1a2B3c4D5e/  ", P.format("C1a2B3c4D5e")),
    ("이번 주 게시물이에요 https://www.instagram.com/p/C1a2B3c4D5e/?igsh=x 잘 부탁해요",
     P.format("C1a2B3c4D5e")),
    ("https://www.instagram.com/share/BAHmX1yZ2q", "https://www.instagram.com/share/BAHmX1yZ2q/"),
    ("https://www.instagram.com/share/reel/BAHmX1yZ2q/",
     "https://www.instagram.com/share/reel/BAHmX1yZ2q/"),
    ("https://www.instagram.com/share/p/BAHmX1yZ2q/?igsh=1",
     "https://www.instagram.com/share/p/BAHmX1yZ2q/"),
]
BAD = [
    ("https://www.instagram.com/kim.minji/", LinkProblem.PROFILE),
    ("https://instagram.com/kim.minji?igsh=abc", LinkProblem.PROFILE),
    ("https://www.instagram.com/kim.minji/reels/", LinkProblem.PROFILE),
    ("https://www.instagram.com/stories/kim.minji/3312345678901234567/", LinkProblem.STORY),
    ("https://www.instagram.com/stories/highlights/17912345678901234/", LinkProblem.HIGHLIGHT),
    ("https://www.instagram.com/s/aGlnaGxpZ2h0OjE3OTEy?story_media_id=1", LinkProblem.HIGHLIGHT),
    ("https://www.facebook.com/photo/?fbid=123", LinkProblem.OTHER_DOMAIN),
    ("https://blog.naver.com/someone/223344", LinkProblem.OTHER_DOMAIN),
    ("https://instagram.com.evil.example/p/C1a2B3c4D5e/", LinkProblem.OTHER_DOMAIN),
    ("https://www.instagram.com/p/", LinkProblem.MALFORMED),
    ("https://www.instagram.com/p/ab/", LinkProblem.MALFORMED),
    ("https://www.instagram.com/p/C1a2B3c4!/", LinkProblem.MALFORMED),
    ("https://www.instagram.com/", LinkProblem.MALFORMED),
    ("https://www.instagram.com/explore/tags/food/", LinkProblem.MALFORMED),
    ("안녕하세요", LinkProblem.NOT_A_LINK),
    ("C1a2B3c4D5e", LinkProblem.NOT_A_LINK),
    ("", LinkProblem.NOT_A_LINK),
]


@pytest.mark.parametrize(("text", "url"), OK)
def test_post_links_are_accepted_and_normalised(text: str, url: str) -> None:
    parsed = parse_post_link(text)
    assert isinstance(parsed, PostLink), parsed
    assert parsed.url == url


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_other_links_are_refused_with_the_reason(text: str, problem: LinkProblem) -> None:
    assert parse_post_link(text) is problem


def test_there_are_at_least_thirty_shapes() -> None:
    assert len(OK) + len(BAD) >= 30


def test_share_links_are_marked_for_resolution() -> None:
    parsed = parse_post_link("https://www.instagram.com/share/BAHmX1yZ2q")
    assert isinstance(parsed, PostLink) and parsed.is_share
    assert parsed.shortcode == "share:BAHmX1yZ2q"


def test_several_links_in_one_message_are_all_found() -> None:
    text = "1) instagram.com/p/AAAAA11/ 2) https://www.instagram.com/reel/BBBBB22/?igsh=z."
    assert find_links(text) == [
        "instagram.com/p/AAAAA11/",
        "https://www.instagram.com/reel/BBBBB22/?igsh=z",
    ]


@pytest.mark.parametrize("host", sorted(INSTAGRAM_HOSTS))
def test_every_instagram_host_is_found_in_a_message_and_read_as_a_post(host: str) -> None:
    for written in (host, host.upper()):
        text = f"이번 주 글이에요 {written}/reel/C1a2B3c4D5e/?igsh=abc 확인 부탁해요"
        assert find_links(text) == [f"{written}/reel/C1a2B3c4D5e/?igsh=abc"]
        assert parse_post_link(text) == PostLink(P.format("C1a2B3c4D5e"), "C1a2B3c4D5e")
        assert parse_post_link(f"https://{written}/p/C1a2B3c4D5e") == \
            PostLink(P.format("C1a2B3c4D5e"), "C1a2B3c4D5e")


@pytest.mark.parametrize("host", ["instagram.co", "m.instagr.am", "l.instagram.com",
                                  "instagram.com.evil.example", "xinstagram.com"])
def test_other_hosts_are_no_instagram_post(host: str) -> None:
    assert not isinstance(parse_post_link(f"https://{host}/p/C1a2B3c4D5e/"), PostLink)
