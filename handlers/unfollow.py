"""The unfollow check without a password: the person sends Instagram's export (the ZIP,
or its followers and following files one after the other) and gets the answer, with no
Instagram request. Also the whitelist, keeping a result, and `/forgetme`."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from handlers import formatting
from handlers import instagram_login as login
from handlers.context import Continue, Ctx, ProgressFn
from handlers.events import Button, Reply
from handlers.i18n import t
from handlers.registry import Command, Flow, Trigger
from services.instagram.errors import InstagramError
from services.instagram.gateway import LoginResult
from services.instagram.names import normalize_username
from services.unfollow.answer import (
    Crawled,
    CrawlProgress,
    UnfollowResult,
    WhitelistFull,
    crawl_follows,
)
from services.unfollow.instagram_export import (
    MAX_UPLOAD,
    ExportProblem,
    FollowLists,
    looks_like_chat_export,
    read_export_off_loop,
)

FILES_FLOW = "unfollow_files"
RESULT_FLOW = "unfollow_result"
LOGIN_FLOW = "unfollow_login"
SHOWN = 50  # names shown per list in a chat message where a file carries the rest


async def from_upload(ctx: Ctx) -> list[Reply]:
    """An uploaded export file: read after this event, in a worker thread (a stranger's
    upload never holds the database or stalls the bot), then the answer, or which file
    is still needed."""
    name, data = ctx.event.attachment_name or "", ctx.event.attachment or b""
    if looks_like_chat_export(name, data):  # by its name alone: nothing is unpacked
        return [ctx.reply("import.admins_only")]  # a KakaoTalk export, not an admin's
    if (ctx.event.attachment_size or 0) > MAX_UPLOAD:  # too big to be downloaded at all
        return [ctx.reply("unfollow.file.upload_too_big", limit=MAX_UPLOAD // 2**20)]

    ctx.defer(Continue(read_export_off_loop, (name, data), then=_export_read,
                       catch=(ExportProblem,)))
    return [Reply(ctx.t("unfollow.reading"), progress=True)]


async def _export_read(ctx: Ctx, read: FollowLists | ExportProblem) -> list[Reply]:
    """The file has been read in a worker thread: the answer, or what is wrong with it."""
    if isinstance(read, ExportProblem):
        return [ctx.reply(f"unfollow.file.{read.reason}", limit=read.limit)]
    return await _with_lists(ctx, read)


async def _with_lists(ctx: Ctx, lists: FollowLists) -> list[Reply]:
    if ctx.state is not None and ctx.state.flow == FILES_FLOW:
        earlier = ctx.state.data
        lists.merge(FollowLists(set(earlier.get("followers", [])),
                                set(earlier.get("following", [])),
                                bool(earlier.get("has_followers")),
                                bool(earlier.get("has_following"))))
    if not lists.complete:
        ctx.goto(FILES_FLOW, "more", followers=sorted(lists.followers),
                 following=sorted(lists.following), has_followers=lists.has_followers,
                 has_following=lists.has_following)
        if lists.has_followers:
            return [ctx.ask("unfollow.need_following", count=len(lists.followers))]
        return [ctx.ask("unfollow.need_followers", count=len(lists.following))]
    result = await ctx.tx.unfollow.analyse(ctx.who.account_id, lists.followers,
                                           lists.following)
    ctx.goto(RESULT_FLOW, "done", followers=sorted(lists.followers))
    return answer(ctx, result)


def answer(ctx: Ctx, result: UnfollowResult, *, keepable: bool = True) -> list[Reply]:
    """The result; long lists go as a text file where the platform takes files. Its
    "keep" button only where the result is remembered for it (`keepable`)."""
    sections = [("unfollow.not_back", result.not_following_back),
                ("unfollow.fans", result.fans)]
    if result.stopped is not None and result.since is not None:
        since = formatting.moment(result.since, ctx.tx.rules.timezone, ctx.lang)
        sections.insert(0, ("unfollow.stopped", result.stopped))
    short = ctx.event.takes_documents and any(len(names) > SHOWN for _, names in sections)
    lines = [ctx.t("unfollow.header", followers=result.followers, following=result.following)]
    full = list(lines)
    since = ""
    for key, names in sections:
        values: dict[str, object] = {"count": len(names)}
        if key == "unfollow.stopped":
            values["since"] = since
        head = ctx.t(key, **values)
        every = [f"   @{n}" for n in names] or [ctx.t("unfollow.none")]
        full += ["", head, *every]
        lines += ["", head, *(every[:SHOWN] if short else every)]
        if short and len(names) > SHOWN:
            lines.append(ctx.t("unfollow.more_in_file", count=len(names) - SHOWN))
    if result.hidden:
        lines += ["", ctx.t("unfollow.hidden", count=result.hidden)]
    document = (ctx.t("unfollow.file_name"), "\n".join(full).encode()) if short else None
    keep = Button(ctx.t("unfollow.keep_button"), "/unfollowkeep")
    return [Reply("\n".join(lines), buttons=(keep,) if keepable else (), document=document)]


async def how(ctx: Ctx, _args: str) -> list[Reply]:
    """`/unfollow`: the export first (no password needed), then the login as a choice.
    Where no file can be sent to the bot (KakaoTalk), the export goes to the member's
    upload page on the web app, or to the bot on Telegram."""
    login = Button(ctx.t("unfollow.login_button"), "/unfollowlogin")
    if ctx.event.sends_files:
        return [ctx.reply("unfollow.how", login)]
    url = await upload_url(ctx)
    if url is None:
        return [ctx.reply("unfollow.how_elsewhere", login)]
    upload = Button(ctx.t("unfollow.upload_button"), "", url=url)
    return [ctx.reply("unfollow.how_on_web", upload, login, url=url)]


async def upload_url(ctx: Ctx) -> str | None:
    """The member's own upload page for the export (None: not a member, or no web
    address a phone can open)."""
    web, member_id = ctx.services.web, ctx.who.member_id
    if member_id is None or not (web.public or ctx.event.platform == "console"):
        return None
    url = await web.personal_url(ctx.tx.session, member_id, ctx.tx.now())
    return f"{url}/unfollow" + ("?lang=en" if ctx.lang == "en" else "") if url else None


# --- with a login: nothing of it is stored ------------------------------------------------


def _key(ctx: Ctx) -> tuple[str, str]:
    return (ctx.event.platform, ctx.event.user_id)


async def login_begin(ctx: Ctx, _args: str) -> list[Reply]:
    services = ctx.services
    if services.unfollow_checks.running(_key(ctx)):
        return [ctx.reply("unfollow.busy")]
    since = ctx.tx.now() - timedelta(days=1)
    limit = ctx.tx.rules.unfollow_daily_limit
    if await ctx.tx.unfollow.checks_since(ctx.who.account_id, since) >= limit:
        return [ctx.reply("unfollow.daily_limit", limit=limit)]
    ctx.goto(LOGIN_FLOW, "username")
    replies = [ctx.ask("unfollow.ask_username")]
    if not ctx.event.deletes_messages:
        replies.insert(0, ctx.reply("unfollow.no_delete_warning"))
    return replies


async def on_login_username(ctx: Ctx, text: str) -> list[Reply]:
    username = normalize_username(text)
    if username is None:
        return [ctx.ask("addhelper.bad_username", value=text.strip()[:40])]
    ctx.goto(LOGIN_FLOW, "password", username=username, tries=0)
    return [login.ask_password(ctx, "unfollow.ask_password", username=username)]


async def on_login_password(ctx: Ctx, text: str) -> list[Reply]:
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    return await login.password_step(ctx, LOGIN, username, text.strip())


async def on_login_code(ctx: Ctx, text: str) -> list[Reply]:
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    return await login.code_step(ctx, LOGIN, username, text)


async def _logged_in(ctx: Ctx, username: str, result: LoginResult, _password: str
                     ) -> list[Reply]:
    return await _start_check(ctx, username, result.session)


LOGIN = login.LoginFlow.for_member(LOGIN_FLOW, "unfollow.ask_code", _logged_in)


async def _start_check(ctx: Ctx, username: str, session: dict) -> list[Reply]:
    """Logged in: the check runs after this event, in the background; the chat stays
    usable, a progress message shows the counts, `/cancel` stops it. The session is
    dropped when it ends; only the fact that a check ran is recorded (the daily cap)."""
    ctx.end()
    await ctx.tx.unfollow.record_check(ctx.who.account_id)
    ctx.defer(Continue(crawl_follows, (ctx.services.instagram.gateway, ctx.services.unfollow_checks,
                                       _key(ctx), session, username),
                       then=_crawled, progress=_crawl_meter))
    return [Reply(ctx.t("unfollow.started", username=username), progress=True)]


def _crawl_meter(lang: str, show: ProgressFn) -> CrawlProgress:
    """The check's progress message: both lists' counts so far."""
    counts = {"followers": (0, 0), "following": (0, 0)}
    showing: set[asyncio.Future[None]] = set()  # held until shown

    def update(which: str, done: int, total: int) -> None:
        counts[which] = (done, total)
        shown = asyncio.ensure_future(show(t(
            lang, "unfollow.progress", followers=counts["followers"][0],
            followers_total=counts["followers"][1], following=counts["following"][0],
            following_total=counts["following"][1])))
        showing.add(shown)
        shown.add_done_callback(showing.discard)
    return update


async def _crawled(ctx: Ctx, crawled: Crawled | InstagramError) -> list[Reply]:
    """The check with login has read both lists: the answer. Its "keep" button needs the
    result remembered in the person's flow state, which happens only when they are in no
    other flow: one they started while the check ran goes on untouched."""
    if isinstance(crawled, InstagramError):
        return [ctx.reply(f"ig.user.{crawled.code}")]
    if crawled.cancelled:
        return [ctx.reply("unfollow.cancelled")]
    result = await ctx.tx.unfollow.analyse(ctx.who.account_id, set(crawled.followers),
                                           set(crawled.following))
    keepable = ctx.state is None or ctx.state.flow == RESULT_FLOW
    replies = answer(ctx, result, keepable=keepable)
    if not crawled.complete:
        replies.insert(0, ctx.reply("unfollow.incomplete"))
    if keepable:
        ctx.goto(RESULT_FLOW, "done", followers=sorted(crawled.followers))
    return replies


async def keep(ctx: Ctx, _args: str) -> list[Reply]:
    if ctx.state is None or ctx.state.flow != RESULT_FLOW:
        return [ctx.reply("unfollow.nothing_to_keep")]
    await ctx.tx.unfollow.keep(ctx.who.account_id, list(ctx.state.data.get("followers", [])),
                               ctx.tx.now())
    ctx.end()
    return [ctx.reply("unfollow.kept")]


async def whitelist(ctx: Ctx, args: str) -> list[Reply]:
    words = args.split()
    account = ctx.who.account_id
    if not words:
        names = await ctx.tx.unfollow.whitelist(account)
        if not names:
            return [ctx.reply("whitelist.empty")]
        return [ctx.reply("whitelist.list", count=len(names),
                          names=", ".join(f"@{n}" for n in names))]
    usernames = [u for w in words[1:] if (u := normalize_username(w))]
    if words[0] not in ("add", "remove", "추가", "삭제") or not usernames:
        return [ctx.reply("whitelist.usage")]
    if words[0] in ("add", "추가"):
        try:
            added = await ctx.tx.unfollow.add_to_whitelist(account, usernames)
        except WhitelistFull as full:
            return [ctx.reply("whitelist.full", limit=full.limit)]
        return [ctx.reply("whitelist.added", names=", ".join(f"@{n}" for n in added) or "-")]
    removed = await ctx.tx.unfollow.remove_from_whitelist(account, usernames)
    return [ctx.reply("whitelist.removed", count=removed)]


async def forget_me(ctx: Ctx, _args: str) -> list[Reply]:
    gone = await ctx.tx.unfollow.forget(ctx.who.account_id)
    ctx.end()
    return [ctx.reply("forgetme.done", count=gone) if gone else ctx.reply("forgetme.nothing")]


async def on_text_while_waiting(ctx: Ctx, _text: str) -> list[Reply]:
    """Text instead of the second file: say again what is needed."""
    data = ctx.state.data if ctx.state else {}
    if data.get("has_followers"):
        return [ctx.ask("unfollow.need_following", count=len(data.get("followers", [])))]
    return [ctx.ask("unfollow.need_followers", count=len(data.get("following", [])))]


async def stop_running_check(ctx: Ctx) -> list[Reply] | None:
    """`/cancel` while this person's check with login runs: it stops."""
    if ctx.services.unfollow_checks.cancel(_key(ctx)):
        return [ctx.reply("unfollow.cancelled_now")]
    return None


def any_file(_ctx: Ctx, _text: str) -> bool:
    return True  # every file no other trigger took is read as Instagram's export


async def uploaded_export(ctx: Ctx, _text: str) -> list[Reply]:
    return await from_upload(ctx)


STOPS = [stop_running_check]
TRIGGERS = [Trigger("instagram_export", "file", any_file, uploaded_export)]
COMMANDS = [
    Command("unfollow", how, keywords=("언팔 확인", "맞팔 확인")),
    Command("unfollowlogin", login_begin, private_only=True, in_menu=False),
    Command("whitelist", whitelist, keywords=("화이트리스트",)),
    Command("forgetme", forget_me, keywords=("내 기록 삭제",)),
    Command("unfollowkeep", keep, in_menu=False, keeps_flow=True),
]
FLOWS = [
    Flow(FILES_FLOW, {"more": on_text_while_waiting}),
    # Remembers the last result for its "keep" button; the chat goes on as usual.
    Flow(RESULT_FLOW, {"done": on_text_while_waiting}, passthrough=True),
    Flow(LOGIN_FLOW, {"username": on_login_username, "password": on_login_password,
                      "code": on_login_code, login.CHECKING: login.waiting},
         secret_steps=frozenset({"password", "code", login.CHECKING})),
]
