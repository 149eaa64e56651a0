"""Admins manage the helper Instagram accounts the bot reads with.

`/addhelper`: username, password (deleted from the chat at once; stored only encrypted),
then the 2FA or "confirm it was you" code when Instagram asks. `/helpers` shows each
helper's state, `/checkhelper` proves one works, `/delhelper` removes one after a
confirmation.
"""

from __future__ import annotations

from handlers import instagram_login as login
from handlers.context import Continue, Ctx
from handlers.events import Button, Reply
from handlers.formatting import moment
from handlers.registry import Command, Flow
from services.instagram.errors import CheckpointRequired, InstagramError
from services.instagram.gateway import LoginResult
from services.instagram.helper_accounts import (
    CheckPlan,
    HelperView,
    LoginOutcome,
    ProbeResult,
    probe,
    secrets_storable,
)
from services.instagram.logins import Answer, Verdict, waiting_after
from services.instagram.names import normalize_username

FLOW = "add_helper"


def ig_reason(ctx: Ctx, code: str) -> str:
    """The admin's explanation of an Instagram error code."""
    return ctx.t(f"ig.admin.{code}")


async def begin(ctx: Ctx, _args: str) -> list[Reply]:
    if not secrets_storable():
        return [ctx.reply("secrets.no_key")]
    ctx.goto(FLOW, "username")
    return [ctx.ask("addhelper.ask_username")]


async def on_username(ctx: Ctx, text: str) -> list[Reply]:
    username = normalize_username(text)
    if username is None:
        return [ctx.ask("addhelper.bad_username", value=text.strip()[:40])]
    if await ctx.tx.helpers.exists(username):
        return [ctx.ask("addhelper.exists", username=username)]
    ctx.goto(FLOW, "password", username=username, tries=0)
    key = "addhelper.ask_password"
    if not ctx.event.deletes_messages and await ctx.tx.accounts.has_platform(ctx.who,
                                                                              "telegram"):
        key = "addhelper.ask_password_linked"  # its "_kept" text names their Telegram
    replies = [login.ask_password(ctx, key, username=username)]
    if await ctx.tx.members.ids_by_username([username]):
        replies.insert(0, ctx.reply("addhelper.member_account", username=username))
    return replies


async def _store(ctx: Ctx, step: str, username: str, answer: Answer, password: str
                 ) -> None:
    """Instagram answered a password or a code: the account is stored (password
    encrypted) unless Instagram said the password is wrong (services/helper_accounts)."""
    if step == "code":
        await ctx.tx.helpers.record_code(username, answer)
    else:
        await ctx.tx.helpers.record_login(ctx.who.account_id, username, password, answer)


def _ask_code(ctx: Ctx, username: str, error: InstagramError) -> Reply:
    key = "addhelper.ask_code_2fa" if error.code == "need_2fa" \
        else "addhelper.ask_code_challenge"
    return ctx.ask(key, username=username)


def _again(ctx: Ctx, step: str, _error: InstagramError, left: int) -> Reply:
    return ctx.ask("addhelper.bad_password" if step == "password" else "addhelper.bad_code",
                   left=left)


async def _over(ctx: Ctx, step: str, username: str, error: InstagramError) -> list[Reply]:
    """A wrong password (or code) too often, an unknown account (its name is asked
    again), or stored but not logged in, and why."""
    if error.code == "bad_credentials":
        return [ctx.reply("addhelper.gave_up")]
    if error.code == "bad_2fa":
        return [ctx.reply("addhelper.code_gave_up", username=username)]
    if error.code == "not_found" and step == "password":
        ctx.goto(FLOW, "username")
        return [ctx.ask("addhelper.no_such_account", username=username)]
    if isinstance(error, CheckpointRequired) and not error.needs_code:
        return [ctx.reply("addhelper.checkpoint_app", username=username)]
    return [ctx.reply("addhelper.stored_not_logged_in", username=username,
                      reason=ig_reason(ctx, error.code))]


async def _ready(ctx: Ctx, username: str, _result: LoginResult, _password: str
                 ) -> list[Reply]:
    return [ctx.reply("addhelper.ready", username=username)]


LOGIN = login.LoginFlow(FLOW, _ask_code, _ready, again=_again, over=_over,
                        answered=_store, own=True)  # an admin adding a helper: own


async def on_password(ctx: Ctx, text: str) -> list[Reply]:
    password = text.strip()
    if not password:
        return [ctx.ask("addhelper.password_empty")]
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    return await login.password_step(ctx, LOGIN, username, password)


async def on_code(ctx: Ctx, text: str) -> list[Reply]:
    username = str((ctx.state.data if ctx.state else {}).get("username", ""))
    code = "".join(text.split())
    if not code.isdigit():
        return [ctx.ask("addhelper.code_digits")]
    return await login.code_step(ctx, LOGIN, username, code)


async def after_check(ctx: Ctx, username: str, outcome: LoginOutcome, password: str
                      ) -> list[Reply]:
    """/checkhelper had to log in with the stored password: ready, a code to send (the
    add-helper flow's code step takes it), or why it is stored but not logged in."""
    if outcome.status == "needs_code" and outcome.error is not None:
        waiting = waiting_after(outcome.error, password)
        verdict = Verdict("code", error=outcome.error,
                          waiting=waiting.seal() if waiting is not None else None)
        return await login.follow(ctx, LOGIN, "password", username, verdict)
    ctx.end()
    if outcome.status == "checkpoint":
        return [ctx.reply("addhelper.checkpoint_app", username=username)]
    return [ctx.reply("addhelper.ready", username=username)]
def _status(ctx: Ctx, helper: HelperView) -> str:
    zone = ctx.tx.rules.timezone
    if helper.status == "cooling" and helper.cooling_until is not None:
        return ctx.t("helper_status.cooling_until",
                     until=moment(helper.cooling_until, zone, ctx.lang))
    return ctx.t(f"helper_status.{helper.status}")


async def list_helpers(ctx: Ctx, _args: str) -> list[Reply]:
    helpers = await ctx.tx.helpers.list()
    if not helpers:
        return [ctx.reply("helpers.empty")]
    zone = ctx.tx.rules.timezone
    lines = [ctx.t("helpers.header", count=len(helpers))]
    for helper in helpers:
        lines.append(ctx.t("helpers.line", username=helper.username, status=_status(ctx, helper)))
        used = moment(helper.last_used, zone, ctx.lang) if helper.last_used \
            else ctx.t("helpers.never_used")
        # Failures only when there were some ("failures: 0" above a problem reads wrong).
        lines.append(ctx.t("helpers.failures", used=used, failures=helper.failures)
                     if helper.failures else ctx.t("helpers.details", used=used))
        if helper.last_error:
            lines.append(ctx.t("helpers.last_error", reason=ig_reason(ctx, helper.last_error)))
    return [Reply("\n".join(lines))]


async def _named(ctx: Ctx, args: str, usage_key: str) -> tuple[str | None, list[Reply]]:
    """The helper an admin named, or the replies that say what is wrong."""
    first = args.split()[0] if args.split() else ""
    username = normalize_username(first) if first else None
    if username is None:
        return None, [ctx.reply(usage_key)]
    if not await ctx.tx.helpers.exists(username):
        return None, [ctx.reply("helpers.unknown", username=username)]
    return username, []


async def delete_helper(ctx: Ctx, args: str) -> list[Reply]:
    username, problem = await _named(ctx, args, "delhelper.usage")
    if username is None:
        return problem
    if args.split()[1:2] != ["confirm"]:
        confirm = Button(ctx.t("delhelper.confirm_button"), f"/delhelper {username} confirm")
        return [ctx.confirm("delhelper.confirm", confirm, "delhelper.kept", username=username)]
    await ctx.tx.helpers.delete(ctx.who.account_id, username)
    return [ctx.reply("delhelper.done", username=username)]


async def check_helper(ctx: Ctx, args: str) -> list[Reply]:
    username, problem = await _named(ctx, args, "checkhelper.usage")
    if username is None:
        return problem
    plan = await ctx.tx.helpers.check_plan(ctx.who.account_id, username)
    if isinstance(plan, LoginOutcome):
        return [ctx.reply("checkhelper.failed", username=username,
                          reason=ig_reason(ctx, plan.status))]
    ctx.defer(Continue(probe, (ctx.services.instagram, plan), then=_checked,
                       values={"plan": plan}))
    return [Reply(ctx.t("checkhelper.checking", username=username), progress=True)]


async def _checked(ctx: Ctx, result: ProbeResult | InstagramError, *, plan: CheckPlan
                   ) -> list[Reply]:
    """Instagram answered /checkhelper (the session, or a login with the stored password):
    recorded, and said, by the admin's next transaction."""
    username = plan.username
    outcome = await ctx.tx.helpers.record_check(ctx.who.account_id, plan, result)
    if outcome.status == "ready":
        return [ctx.reply("checkhelper.ok", username=username)]
    if outcome.status in {"logged_in", "needs_code", "checkpoint"}:
        return await after_check(ctx, username, outcome, plan.password or "")
    return [ctx.reply("checkhelper.failed", username=username,
                      reason=ig_reason(ctx, outcome.status))]


COMMANDS = [
    Command("addhelper", begin, audience="admin", private_only=True, keywords=("헬퍼 추가",)),
    Command("helpers", list_helpers, audience="admin", keywords=("헬퍼 목록",)),
    Command("checkhelper", check_helper, audience="admin", private_only=True),
    Command("delhelper", delete_helper, audience="admin"),
]
FLOWS = [
    Flow(
        FLOW,
        {"username": on_username, "password": on_password, "code": on_code,
         login.CHECKING: login.waiting},
        secret_steps=frozenset({"password", "code", login.CHECKING}),
    )
]
