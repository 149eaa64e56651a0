"""The unfollow check without a password: the person sends Instagram's export (the ZIP,
or its followers and following files one after the other) and gets the answer, with no
Instagram request. Also the whitelist, keeping a result, and `/forgetme`."""

from __future__ import annotations

from handlers import formatting
from handlers.context import Ctx
from handlers.events import Button, Reply
from handlers.registry import Command, Flow
from services.helper_accounts import normalize_username
from services.instagram_export import (
    ExportProblem,
    FollowLists,
    looks_like_chat_export,
    read_export,
)
from services.unfollow import UnfollowResult

FILES_FLOW = "unfollow_files"
RESULT_FLOW = "unfollow_result"
SHOWN = 50  # names shown per list in a chat message where a file carries the rest


async def from_upload(ctx: Ctx) -> list[Reply]:
    """An uploaded export file: the answer, or which file is still needed."""
    try:
        lists = read_export(ctx.event.attachment_name or "", ctx.event.attachment or b"")
    except ExportProblem as problem:
        if problem.reason in ("not_instagram", "zip_without_lists") and looks_like_chat_export(
                ctx.event.attachment_name or "", ctx.event.attachment or b""):
            return [ctx.reply("import.admins_only")]  # a KakaoTalk export, not from an admin
        return [ctx.reply(f"unfollow.file.{problem.reason}")]
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


def answer(ctx: Ctx, result: UnfollowResult) -> list[Reply]:
    """The result; long lists go as a text file where the platform takes files."""
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
    return [Reply("\n".join(lines), buttons=(keep,), document=document)]


async def how(ctx: Ctx, _args: str) -> list[Reply]:
    """`/unfollow`: how to get Instagram's export (no password needed)."""
    return [ctx.reply("unfollow.how")]


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
        added = await ctx.tx.unfollow.add_to_whitelist(account, usernames)
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


COMMANDS = [
    Command("unfollow", how, keywords=("언팔 확인", "맞팔 확인")),
    Command("whitelist", whitelist, keywords=("화이트리스트",)),
    Command("forgetme", forget_me, keywords=("내 기록 삭제",)),
    Command("unfollowkeep", keep, in_menu=False, keeps_flow=True),
]
FLOWS = [
    Flow(FILES_FLOW, {"more": on_text_while_waiting}),
    # Remembers the last result for its "keep" button; the chat goes on as usual.
    Flow(RESULT_FLOW, {"done": on_text_while_waiting}, passthrough=True),
]
