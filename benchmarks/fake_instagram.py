"""A fake Instagram mobile API for the verification benchmark, with its own ground truth.

It is not the product's simulated Instagram: it is an HTTP server (aiohttp, run in its
own process) that answers the requests instagrapi sends (`media/{pk}/info/`,
`media/{pk}/comments/`, `media/{pk}/comments/{pk}/inline_child_comments/`) with the
bodies Instagram's mobile API sends, and it makes a week as awkward as real ones:

- comment pages of 20, the first page from the middle on some posts (older pages by
  `min_id`, newer by `max_id`), the last comment of a page sent again on the next;
- members who comment twice, outsiders (fans, strangers), replies by the owner and by
  members, threads longer than their two previews (members who only replied in one);
- hidden comments: counted in `comment_count`, never listed (a filtered comment);
- faults: a share of requests answered 429, drawn per request.

`World` builds the week from (members, seed) and says what the least any reader must
send is: per post its info, each page of comments once, each page of each long thread
once. The world lives only here: the benchmark asks for its members and posts to seed
the product's database (`/_bench/world`) and for the product's verdicts to be judged
against the truth (`/_bench/judge`, read from that database), so the benchmark's own
process holds the product and nothing else when its peak memory is taken.

    .venv/bin/python benchmarks/fake_instagram.py --members 30 [--port 0]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from instagrapi import Client
from sqlalchemy import select

from services.sample_community import member_names
from storage.db import create_engine
from storage.models import Member, Submission, Verification

PAGE = 20  # comments a page, as the threaded mobile endpoint sends about
REPLY_PAGE = 10
PREVIEWS = 2  # replies shown inside their comment
COMMENT_RATE = 0.7  # members who comment on a given post


@dataclass
class Comment:
    pk: int
    username: str
    replies: list[tuple[int, str]] = field(default_factory=list)  # (pk, username)


@dataclass
class FakePost:
    code: str
    pk: str
    owner: str
    comments: list[Comment]
    hidden: int  # counted by Instagram, never listed
    start: int  # the page the first answer is (the middle on "headload" posts)
    overlap: bool  # each page repeats the last comment of the one before
    commented: set[str]  # members who commented or replied: the truth

    @property
    def count(self) -> int:
        return len(self.comments) + sum(len(c.replies) for c in self.comments) + self.hidden

    def pages(self) -> list[list[Comment]]:
        rows = self.comments
        pages = [rows[n:n + PAGE] for n in range(0, len(rows), PAGE)] or [[]]
        if self.overlap:
            pages = [([rows[n * PAGE - 1]] if n else []) + page for n, page in enumerate(pages)]
        return pages

    def minimum(self) -> int:
        """Requests any complete read needs: the info, each page, each thread page."""
        threads = sum(-(-len(c.replies) // REPLY_PAGE) for c in self.comments
                      if len(c.replies) > PREVIEWS)
        return 1 + len(self.pages()) + threads


class World:
    """One week of a community of `members`, each handing in two or three posts."""

    def __init__(self, members: int, seed: int = 1) -> None:
        chance = random.Random(seed)
        self.members = member_names(members)
        self.helpers = [f"helper.{n + 1:03d}" for n in range(2000)]
        self.posts: dict[str, FakePost] = {}
        self.by_pk: dict[str, FakePost] = {}
        pk = 10_000
        for index, owner in enumerate(self.members):
            for number in range(3 if index % 2 else 2):
                code = f"B{seed:02d}{index:05d}{number}"
                others = [m for m in self.members if m != owner]
                commenters = [m for m in others if chance.random() < COMMENT_RATE]
                writers = commenters + [m for m in commenters if chance.random() < 0.05]
                writers += [f"fan.{code.lower()}.{k}" for k in range(max(1, len(commenters) // 10))]
                chance.shuffle(writers)
                comments = []
                for name in writers:
                    pk += 1
                    comments.append(Comment(pk, name))
                commented = set(commenters)
                for comment in comments:  # the owner thanks; now and then a conversation
                    if chance.random() < 0.3:
                        roll = chance.random()
                        replies = 1 if roll < 0.7 else 2 if roll < 0.85 else chance.randint(3, 12)
                        for _ in range(replies):
                            pk += 1
                            replier = owner if chance.random() < 0.6 else chance.choice(others)
                            comment.replies.append((pk, replier))
                            if replier != owner:
                                commented.add(replier)
                post = FakePost(code, str(Client().media_pk_from_code(code)), owner, comments,
                                chance.choice((0, 0, 0, 1, 2)), 0, chance.random() < 0.3,
                                commented)
                if chance.random() < 0.3:
                    post.start = len(post.pages()) // 2
                self.posts[code] = post
                self.by_pk[post.pk] = post

    def minimum(self) -> int:
        return sum(post.minimum() for post in self.posts.values())

    def pairs(self) -> int:
        """(member, post) pairs owed: everyone but the owner owes each post."""
        return len(self.posts) * (len(self.members) - 1)

    def judge(self, found: dict[tuple[str, str], str]) -> dict[str, int]:
        """Verdicts against the truth: settled, wrong, unknown that a re-read could
        settle, and unknown left by hidden comments (never complete by design)."""
        tally = {"settled": 0, "wrong": 0, "open": 0, "hidden": 0}
        for post in self.posts.values():
            for member in self.members:
                if member == post.owner:
                    continue
                verdict = found.get((member, post.code), "unknown")
                truth = "done" if member in post.commented else "missing"
                if verdict == "unknown":
                    tally["hidden" if post.hidden and truth == "missing" else "open"] += 1
                else:
                    tally["settled"] += 1
                    tally["wrong"] += verdict != truth
        return tally


def _comment(comment: Comment) -> dict[str, object]:
    previews = comment.replies[-PREVIEWS:] if comment.replies else []
    return {"pk": comment.pk, "text": "좋아요 잘 보고 가요", "type": 0, "status": "Active",
            "created_at_utc": 1764500000, "content_type": "comment",
            "user": {"pk": abs(hash(comment.username)) % 10**9, "username": comment.username},
            "child_comment_count": len(comment.replies),
            "preview_child_comments": [{"pk": pk, "text": "감사해요", "user": {
                "pk": abs(hash(name)) % 10**9, "username": name}} for pk, name in previews]}


class FakeInstagram:
    """The HTTP side: answers, counts every request, and injects the faults."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.faults = 0.0
        self.chance = random.Random(0)
        self.requests = 0
        self.refused = 0
        self.asked: dict[tuple[str, str], int] = {}  # (kind, cursor) -> times asked

    def _fault(self, kind: str, code: str = "") -> web.Response | None:
        self.requests += 1
        self.asked[(kind, code)] = self.asked.get((kind, code), 0) + 1
        if self.faults and self.chance.random() < self.faults:
            self.refused += 1
            return web.json_response({"message": "", "status": "fail"}, status=429)
        return None

    def _post(self, request: web.Request) -> FakePost:
        post = self.world.by_pk.get(request.match_info["pk"])
        if post is None:
            raise web.HTTPNotFound(text='{"message": "Media not found or unavailable", '
                                        '"status": "fail"}', content_type="application/json")
        return post

    async def info(self, request: web.Request) -> web.Response:
        refused = self._fault("info", request.match_info["pk"])
        if refused is not None:
            return refused
        post = self._post(request)
        return web.json_response({"items": [{
            "pk": post.pk, "id": f"{post.pk}_1", "code": post.code, "media_type": 1,
            "user": {"pk": 1, "username": post.owner}, "comment_count": post.count,
            "comments_disabled": False, "caption": {"text": "오늘의 일상"}}],
            "num_results": 1, "status": "ok"})

    async def comments(self, request: web.Request) -> web.Response:
        cursor = request.query.get("max_id") or request.query.get("min_id")
        refused = self._fault("comments", f"{request.match_info['pk']}:{cursor}")
        if refused is not None:
            return refused
        post = self._post(request)
        pages = post.pages()
        number = int(cursor.split("_")[1]) if cursor else post.start
        body: dict[str, object] = {
            "comments": [_comment(c) for c in pages[number]],
            "comment_count": post.count, "caption_is_edited": False, "status": "ok",
            "has_more_comments": number >= post.start and number + 1 < len(pages),
            "has_more_headload_comments": number <= post.start and number > 0,
        }
        if body["has_more_comments"]:
            body["next_max_id"] = f"QVFE_{number + 1}_{post.code}"
        if body["has_more_headload_comments"]:
            body["next_min_id"] = f"QVFE_{number - 1}_{post.code}"
        return web.json_response(body)

    async def replies(self, request: web.Request) -> web.Response:
        refused = self._fault("replies", f"{request.match_info['comment']}:"
                                         f"{request.query.get('max_id')}")
        if refused is not None:
            return refused
        post = self._post(request)
        comment = next((c for c in post.comments if str(c.pk) == request.match_info["comment"]),
                       None)
        if comment is None:
            raise web.HTTPNotFound()
        start = int(request.query.get("max_id") or 0)
        rows = comment.replies[start:start + REPLY_PAGE]
        more = start + REPLY_PAGE < len(comment.replies)
        body: dict[str, object] = {
            "child_comments": [{"pk": pk, "text": "감사해요", "user": {
                "pk": abs(hash(name)) % 10**9, "username": name}} for pk, name in rows],
            "child_comment_count": len(comment.replies), "status": "ok",
            "has_more_tail_child_comments": more}
        if more:
            body["next_max_child_cursor"] = str(start + REPLY_PAGE)
        return web.json_response(body)

    async def configure(self, request: web.Request) -> web.Response:
        """The benchmark's own door: set the fault share, read and reset the counts."""
        stats = {"requests": self.requests, "refused": self.refused,
                 "repeated": sum(n - 1 for n in self.asked.values()),
                 "repeats": [f"{k}:{c}" for (k, c), n in self.asked.items() if n > 1][:5]}
        if "faults" in request.query:
            self.faults = float(request.query["faults"])
            self.chance = random.Random(int(request.query.get("seed", "0")))
            self.requests = self.refused = 0
            self.asked = {}
        return web.json_response(stats)

    async def show_world(self, _request: web.Request) -> web.Response:
        """What the benchmark seeds the product's database with (no truth in it)."""
        return web.json_response({
            "members": self.world.members, "helpers": self.world.helpers,
            "posts": [[p.code, p.owner] for p in self.world.posts.values()],
            "minimum": self.world.minimum(), "pairs": self.world.pairs()})

    async def judge_verdicts(self, request: web.Request) -> web.Response:
        """The product's verdicts, read from its database (`url`), against the truth."""
        engine = create_engine(request.query["url"])
        try:
            async with engine.connect() as connection:
                rows = await connection.stream(
                    select(Member.instagram_username, Submission.shortcode,
                           Verification.status)
                    .join(Verification, Verification.member_id == Member.id)
                    .join(Submission, Submission.id == Verification.submission_id))
                found = {(m, s): v async for m, s, v in rows}
        finally:
            await engine.dispose()
        return web.json_response(self.world.judge(found))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/media/{pk}/info/", self.info)
        app.router.add_get("/api/v1/media/{pk}/comments/", self.comments)
        app.router.add_get("/api/v1/media/{pk}/comments/{comment}/inline_child_comments/",
                           self.replies)
        app.router.add_get("/_bench", self.configure)
        app.router.add_get("/_bench/world", self.show_world)
        app.router.add_get("/_bench/judge", self.judge_verdicts)
        return app


async def serve(members: int, seed: int, port: int) -> None:
    runner = web.AppRunner(FakeInstagram(World(members, seed)).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    print(f"ready {site._server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.members, args.seed, args.port))
