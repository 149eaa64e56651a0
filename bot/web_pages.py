"""The web pages: the week board (`/week`), a member's list, the personal page
(`/m/<token>`) and the week's picture (`/week/<label>.png`), on the one web app.

For members who live in the KakaoTalk open chat, where no bot can post: an admin pastes
the board's link there (`/weeklink`). Pages are made for the in-app browser of a phone:
one small HTML file each (no external script, font or tracker), Korean unless `?lang=en`.
Every text from a user goes through Jinja2's autoescape, a Content-Security-Policy lets
only the page's own inline script run, and no page sends a Referer (a personal link's
token must not reach Instagram when a post is opened).

Pages only read: they use a plain session, never the writers' lock. The board, its page
and its picture are cached a short while per week and language (services.web.board_cache,
WEB_BOARD_CACHE_SECONDS; a check of the week drops them) and carry an ETag and a
Last-Modified, so a phone that reloads gets a 304 and a crowd of readers costs the
database one count per week and half-minute, never the chat's turn.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from jinja2 import Environment, PackageLoader, select_autoescape

from handlers import formatting
from handlers.arguments import iso_week, missing_week
from handlers.i18n import t
from services.community import CommunityService
from services.container import Services
from services.instagram.helper_accounts import HelperAccountService
from services.instagram.names import name_key
from services.unfollow.instagram_export import (
    MAX_UPLOAD,
    ExportProblem,
    FollowLists,
    looks_like_chat_export,
    read_export_off_loop,
)
from services.web.board import Board, BoardService
from services.web.board_cache import BOARD_CACHE_SECONDS, BoardCache, Entry
from services.web.links import BoardMode, Holder, LinkProblem, WebLinks
from services.web.week_picture import PictureTexts, render
from services.week.calendar import Week
from services.week.progress import ProgressService
from services.week.record import is_deleted

log = logging.getLogger(__name__)
WEEK = r"{label:\d{4}-W\d{2}}"
INSTAGRAM = ("https://www.instagram.com/", "https://instagram.com/")
# Filters the board as one types, and loads a member's list when their row is opened.
SCRIPT = (Path(__file__).resolve().parent / "templates" / "board.js").read_text().strip()
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; "
        "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
}


def _instagram_only(url: str) -> str:
    """A post's link as stored, if it is an Instagram one (anything else goes nowhere)."""
    return url if url.startswith(INSTAGRAM) else "#"


_ENV = Environment(loader=PackageLoader("bot", "templates"),
                   autoescape=select_autoescape(default=True), trim_blocks=True,
                   lstrip_blocks=True)
_ENV.filters["instagram"] = _instagram_only
_ENV.tests["deleted"] = is_deleted  # a member deleted since (shown as "(삭제된 멤버)")


async def picture_of(services: Services, week: Week, lang: str = "ko",
                     board: Board | None = None) -> bytes:
    """The week's results picture (the page's and the group post's); drawn off the loop."""
    if board is None:
        async with services.reading() as session:
            board = await BoardService(session, services.rules).board(week)
    zone = services.rules.timezone
    texts = PictureTexts(
        title=t(lang, "web.picture_title" if board.finished else "web.picture_title_so_far",
                week=formatting.week(week, lang)),
        summary=t(lang, "web.board_summary", members=len(board.rows), posts=board.posts,
                  done=len(board.done)),
        checked=t(lang, "web.checked_at", time=formatting.moment(board.checked_at, zone, lang))
        if board.checked_at else t(lang, "web.never_checked"),
        legend=t(lang, "web.picture_legend"), done=t(lang, "web.done"),
        more=t(lang, "web.picture_more", count="{count}"), deleted=t(lang, "deluser.shown_as"),
        nothing_owed=t(lang, "web.nothing_owed"))
    return await asyncio.to_thread(render, board, texts)


def language(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "ko"


class WebPages:
    def __init__(self, services: Services, links: WebLinks,
                 cache_seconds: float = BOARD_CACHE_SECONDS) -> None:
        self.services = services
        self.links = links
        self.cache = BoardCache(services.week_versions, cache_seconds)
        self._checks: set[asyncio.Task[Any]] = set()  # "check now" runs, held until done

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/week", self.board)
        app.router.add_get(f"/week/{WEEK}.png", self.picture)
        app.router.add_get(f"/week/{WEEK}", self.board)
        app.router.add_get(f"/week/{WEEK}/todo/{{username}}", self.member_list)
        app.router.add_get("/week/{label}", self.no_week)
        app.router.add_get("/m/{token}", self.personal)
        app.router.add_post("/m/{token}/check", self.check_now)
        app.router.add_get("/m/{token}/unfollow", self.unfollow_page)
        app.router.add_post("/m/{token}/unfollow", self.unfollow_upload)
        app.router.add_get("/favicon.ico", self.no_icon)
        app.router.add_get("/notice/qr.png", self.notice_qr)

    # -- helpers ---------------------------------------------------------------------

    @staticmethod
    def _render(name: str, lang: str, **values: Any) -> str:
        return _ENV.get_template(name).render(lang=lang, t=lambda key, **v: t(lang, key, **v),
                                              **values)

    def _page(self, name: str, lang: str, status: int = 200, private: bool = False,
              **values: Any) -> web.Response:
        html = self._render(name, lang, **values)
        headers = dict(HEADERS)
        headers["Cache-Control"] = "no-store" if private else "no-cache"
        response = web.Response(text=html, content_type="text/html", status=status,
                                headers=headers)
        response.enable_compression()  # when the browser takes it: a 300-member board
        return response  # is about 60 KB of HTML, a tenth of that compressed

    def _problem(self, lang: str, title_key: str, *lines: str, status: int = 404
                 ) -> web.Response:
        return self._page("problem.html", lang, status=status, private=True,
                          title=t(lang, title_key), lines=lines,
                          board_url=self._with_lang("/week", lang))

    @staticmethod
    def _with_lang(path: str, lang: str) -> str:
        return path + ("?lang=en" if lang == "en" else "")

    def _now(self) -> datetime:
        return self.services.clock()

    def _this_week(self) -> Week:
        return Week.containing(self._now(), self.services.rules.timezone)

    def _week_of(self, request: web.Request) -> Week | None:
        label = request.match_info.get("label")
        return self._this_week() if label is None else iso_week(
            label, self.services.rules.timezone)

    async def _board(self, week: Week) -> Board:
        """The week's board, from the cache (one count for every reader meanwhile)."""
        async def compute() -> Board:
            async with self.services.reading() as session:
                return await BoardService(session, self.services.rules).board(week)
        return (await self.cache.get(("board", week.start), week.start, compute)).value

    async def _cached(self, request: web.Request, key: tuple[Any, ...], week: Week,
                      compute: Callable[[], Awaitable[Any]], content_type: str
                      ) -> web.Response:
        """A cached page or picture, or 304 when the reader already has it."""
        entry: Entry[Any] = await self.cache.get(key, week.start, compute)
        headers = {**HEADERS, "Cache-Control": "no-cache", "ETag": entry.etag,
                   "Last-Modified": entry.changed.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        if _not_modified(request, entry):
            return web.Response(status=304, headers=headers)
        body = entry.value.encode() if isinstance(entry.value, str) else entry.value
        response = web.Response(body=body, content_type=content_type,
                                charset="utf-8" if isinstance(entry.value, str) else None,
                                headers=headers)
        if isinstance(entry.value, str):
            response.enable_compression()  # a 300-member board: 60 KB of HTML, 6 compressed
        return response

    # -- pages -----------------------------------------------------------------------

    async def no_icon(self, _request: web.Request) -> web.Response:
        """Browsers ask for one; nothing to fetch (and nothing to log as missing)."""
        return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})

    async def notice_qr(self, request: web.Request) -> web.Response:
        """The current notice's open-chat QR code, for KakaoTalk's image card (a skill
        answer shows pictures by address only)."""
        async with self.services.reading() as session:
            current = await CommunityService(session).notice()
        if current is None or not current.qr_image:
            return self._problem(language(request), "web.not_found_title",
                                 t(language(request), "web.not_found"))
        return web.Response(body=current.qr_image, content_type="image/png",
                            headers={**HEADERS, "Cache-Control": "max-age=300"})

    async def no_week(self, request: web.Request) -> web.Response:
        lang = language(request)
        label = request.match_info["label"][:20]
        missing = missing_week(label)
        if missing is not None:  # written right, but no such week
            return self._problem(lang, "web.no_week_title", t(
                lang, "week.missing", label=label.upper(), year=missing[0], weeks=missing[1]))
        return self._problem(lang, "web.no_week_title", t(lang, "web.no_week", label=label))

    async def board(self, request: web.Request) -> web.Response:
        lang, week = language(request), self._week_of(request)
        if week is None:
            return await self.no_week(request)
        this_week = self._this_week()
        week_text = formatting.week(week, lang)
        if week.start > this_week.start:
            return self._problem(lang, "web.no_week_title",
                                 t(lang, "web.future_week", week=week_text))
        private = self.links.board is BoardMode.PRIVATE
        key = ("page", request.path, lang, this_week.start, private)
        return await self._cached(request, key, week, lambda: self._board_page(
            request.path, lang, week, this_week, private), "text/html")

    async def _board_page(self, path: str, lang: str, week: Week, this_week: Week,
                          private: bool) -> str:
        board = await self._board(week)
        zone = self.services.rules.timezone
        week_text = formatting.week(week, lang)
        nxt = Week(week.start + (this_week.start - this_week.previous().start), zone)
        other = "ko" if lang == "en" else "en"
        title = t(lang, "web.board_title" if board.finished else "web.board_title_so_far",
                  week=week_text)
        return self._render(
            "board.html", lang, board=board, week_text=week_text, private_board=private,
            title=title,
            checked_text=formatting.moment(board.checked_at, zone, lang)
            if board.checked_at else "",
            previous_url=self._with_lang(f"/week/{week.previous().label}", lang),
            next_url=None if week.start >= this_week.start else self._with_lang(
                f"/week/{nxt.label}", lang),
            picture_url=f"/week/{week.label}.png" + ("?lang=en" if lang == "en" else "")
            if board.rows else None,
            other_language_url=self._with_lang(path, other),
            other_language=t(lang, "web.korean" if lang == "en" else "web.english"),
            list_url=lambda name: self._with_lang(
                f"/week/{week.label}/todo/{quote(name)}", lang),
            shown_label=t(lang, "web.shown", count="#"),
            script=SCRIPT)

    async def member_list(self, request: web.Request) -> web.Response:
        """One member's posts still to comment on (a fragment for the board's row with
        `?part=1`, else a page of its own, for a browser without scripts)."""
        lang, week = language(request), self._week_of(request)
        if week is None:
            return await self.no_week(request)
        if self.links.board is BoardMode.PRIVATE:
            return self._problem(lang, "web.link_problem_title", t(lang, "web.private_list"),
                                 status=403)
        username = name_key(request.match_info["username"])[:30]
        if is_deleted(username):  # a deleted member's list is theirs no more
            return self._problem(lang, "web.not_found_title",
                                 t(lang, "web.no_member", username=username))
        async with self.services.reading() as session:
            items = await BoardService(session, self.services.rules).still_owed(week, username)
        if items is None:
            return self._problem(lang, "web.not_found_title",
                                 t(lang, "web.no_member", username=username))
        values = {"items": items, "empty": t(lang, "web.list_empty")}
        if request.query.get("part"):
            html = _ENV.get_template("posts.html").render(
                lang=lang, t=lambda key, **v: t(lang, key, **v), **values)
            return web.Response(text=html, content_type="text/html",
                                headers={**HEADERS, "Cache-Control": "no-cache"})
        return self._page("list.html", lang, username=username, **values,
                          title=f"@{username} · {formatting.week(week, lang)}",
                          week_text=formatting.week(week, lang),
                          board_url=self._with_lang(f"/week/{week.label}", lang))

    async def picture(self, request: web.Request) -> web.Response:
        lang, week = language(request), self._week_of(request)
        if week is None or week.start > self._this_week().start:
            return await self.no_week(request)

        async def draw() -> bytes:
            return await picture_of(self.services, week, lang, await self._board(week))
        return await self._cached(request, ("picture", week.start, lang), week, draw,
                                  "image/png")

    async def _holder(self, request: web.Request) -> Holder | web.Response:
        """Whose personal link this is, or the page that says why it does not open."""
        lang = language(request)
        async with self.services.reading() as session:
            found = await self.links.holder(session, request.match_info["token"], self._now())
        if isinstance(found, LinkProblem):
            return self._problem(lang, "web.link_problem_title",
                                 t(lang, f"web.link.{found.value}"),
                                 t(lang, "web.link.how_to_get"), status=403)
        return found

    async def personal(self, request: web.Request) -> web.Response:
        lang = language(request)
        holder = await self._holder(request)
        if isinstance(holder, web.Response):
            return holder
        now, rules = self._now(), self.services.rules
        if holder.status != "active":
            return self._problem(lang, "web.link_problem_title", t(lang, "web.not_member"),
                                 status=403)
        async with self.services.reading() as session:
            view = await ProgressService(session, rules).status(holder.member_id, now)
        zone = rules.timezone
        message = {"started": t(lang, "web.check_started"),
                   "unavailable": t(lang, "web.check_unavailable")}.get(
                       request.query.get("check", ""))
        wait = await self.services.checks.next_check_for(holder.member_id, now)
        if request.query.get("check") == "wait" and wait is not None:
            message = t(lang, "web.check_wait", time=formatting.moment(wait, zone, lang))
        token = request.match_info["token"]
        other = "ko" if lang == "en" else "en"
        return self._page(
            "personal.html", lang, private=True, username=holder.username,
            title=t(lang, "web.personal_title", username=holder.username),
            week_text=formatting.week(view.week, lang),
            submit_text=formatting.moment(view.submission_deadline, zone, lang),
            comment_text=formatting.moment(view.comment_deadline, zone, lang),
            todo=view.todo, open=view.open_items,
            done=[item for item in view.todo if item.status == "done"],
            own=view.own, minimum=view.minimum, maximum=view.maximum, message=message,
            can_check=bool(view.open_items),
            check_url=self._with_lang(f"/m/{token}/check", lang),
            board_url=self._with_lang("/week", lang),
            unfollow_url=self._with_lang(f"/m/{token}/unfollow", lang),
            other_language_url=self._with_lang(f"/m/{token}", other),
            other_language=t(lang, "web.korean" if lang == "en" else "web.english"),
            expires_text=formatting.moment(holder.expires, zone, lang))

    async def check_now(self, request: web.Request) -> web.Response:
        """The page's "check now": the chat's cooldown, then the check in the background
        (Instagram is slow); the page says so and is reloaded for the verdicts."""
        lang = language(request)
        holder = await self._holder(request)
        if isinstance(holder, web.Response):
            return holder
        checks, now = self.services.checks, self._now()
        outcome = "unavailable"
        async with self.services.reading() as session:
            _registered, usable = await HelperAccountService(
                session, self.services.instagram).counts()
        if usable:
            wait = await checks.claim(holder.member_id, now)
            outcome = "wait" if wait is not None else "started"
            if wait is None:
                task = asyncio.create_task(checks.member(holder.member_id, now))
                self._checks.add(task)
                task.add_done_callback(self._check_done)
        token = request.match_info["token"]
        query = f"?check={outcome}" + ("&lang=en" if lang == "en" else "")
        raise web.HTTPSeeOther(f"/m/{token}{query}")

    # -- the unfollow check's upload (KakaoTalk cannot send the bot a file) ----------

    async def unfollow_page(self, request: web.Request, **values: Any) -> web.Response:
        """The form that takes Instagram's export; with `values`, a result or a problem."""
        lang = language(request)
        holder = await self._holder(request)
        if isinstance(holder, web.Response):
            return holder
        token = request.match_info["token"]
        other = "ko" if lang == "en" else "en"
        return self._page("unfollow.html", lang, private=True,
                          title=t(lang, "web.unfollow_title"), username=holder.username,
                          upload_url=self._with_lang(f"/m/{token}/unfollow", lang),
                          personal_url=self._with_lang(f"/m/{token}", lang),
                          other_language_url=self._with_lang(f"/m/{token}/unfollow", other),
                          other_language=t(lang, "web.korean" if lang == "en"
                                           else "web.english"),
                          limit=MAX_UPLOAD // 2**20, **values)

    async def unfollow_upload(self, request: web.Request) -> web.Response:
        """The uploaded export, read as the chat reads one sent to the bot (the same
        limits, the worker, the same service), answered on the page."""
        lang = language(request)
        holder = await self._holder(request)
        if isinstance(holder, web.Response):
            return holder
        files = await _uploaded(request)
        if isinstance(files, str):
            return await self.unfollow_page(request, problem=t(
                lang, f"unfollow.file.{files}", limit=MAX_UPLOAD // 2**20), status=400)
        lists: FollowLists | None = None
        for name, data in files:
            if looks_like_chat_export(name, data):
                return await self.unfollow_page(
                    request, problem=t(lang, "unfollow.file.not_instagram"), status=400)
            try:
                read = await read_export_off_loop(name, data)
            except ExportProblem as problem:
                return await self.unfollow_page(request, status=400, problem=t(
                    lang, f"unfollow.file.{problem.reason}", limit=problem.limit))
            if lists is None:
                lists = read
            else:
                lists.merge(read)
        if lists is None or not lists.complete:
            key = "web.unfollow_need_following" if lists is not None and \
                lists.has_followers else "web.unfollow_need_followers"
            return await self.unfollow_page(request, problem=t(lang, key), status=400)
        async with self.services.transaction() as tx:
            account_id = await tx.accounts.first_account_of(holder.member_id)
            result = await tx.unfollow.analyse(account_id or 0, lists.followers,
                                               lists.following)
        zone = self.services.rules.timezone
        since = formatting.moment(result.since, zone, lang) if result.since else ""
        return await self.unfollow_page(request, result=result, since=since)

    def _check_done(self, task: asyncio.Task[Any]) -> None:
        self._checks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a check from the web page failed", exc_info=task.exception())

    async def close(self, _app: web.Application) -> None:
        for task in list(self._checks):
            task.cancel()


async def _uploaded(request: web.Request) -> list[tuple[str, bytes]] | str:
    """The form's files (name, bytes), read as they come, at most MAX_UPLOAD in all;
    else the reason ("upload_too_big", "not_instagram": no file, or no form)."""
    try:
        reader = await request.multipart()
    except (AssertionError, ValueError, KeyError):  # not a multipart form
        return "not_instagram"
    files: list[tuple[str, bytes]] = []
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.filename:
            continue
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > MAX_UPLOAD:
                return "upload_too_big"
            data += chunk
        if data:
            files.append((part.filename, bytes(data)))
    return files or "not_instagram"


def _not_modified(request: web.Request, entry: Entry[Any]) -> bool:
    """If-None-Match (weak comparison) when sent, else If-Modified-Since."""
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return "*" in tags or entry.etag.removeprefix("W/") in tags
    since = request.if_modified_since
    return since is not None and entry.changed <= since
