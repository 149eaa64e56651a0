"""What every flow shares: leaving it (`/cancel`), and answering a numbered list or a
confirmation (`Ctx.choices`, `Ctx.confirm`). Each reads the registry the event is routed
by, so none of them knows a feature."""

from __future__ import annotations

from handlers.arguments import choice_number
from handlers.context import CANCEL_WORDS, CHOICE_FLOW, CONFIRM_FLOW, Ctx
from handlers.events import Button, Reply
from handlers.registry import Command, Flow, parse_command
from services.conversations import FlowState


async def cancel(ctx: Ctx, _args: str) -> list[Reply]:
    """Stop what runs for this person, or leave their flow saying what that flow says."""
    for stop in ctx.registry.stops:  # work running outside any flow stops first
        stopped = await stop(ctx)
        if stopped is not None:
            return stopped
    state = ctx.state
    ctx.end()
    if state is None:
        return [ctx.reply("common.nothing_to_cancel")]
    flow = ctx.registry.flows.get(state.flow)
    if flow is not None and flow.on_cancel is not None:
        said = await flow.on_cancel(ctx, state)
        if said is not None:
            return said
    return [ctx.reply("common.cancelled")]


async def say_kept(ctx: Ctx, state: FlowState) -> list[Reply] | None:
    """A list or a question left: what was not done, rather than "cancelled"."""
    kept = state.data.get("kept")
    if not kept:
        return None
    return [ctx.reply(str(kept), **dict(state.data.get("values") or {}))]


async def on_choice(ctx: Ctx, text: str) -> list[Reply]:
    """A numbered list's answer: its number runs that choice's button; anything else
    shows the list again with what to type."""
    data = ctx.state.data if ctx.state is not None else {}
    buttons = [Button(str(label), str(payload)) for label, payload in data.get("buttons", [])]
    number = choice_number(text, len(buttons))
    parsed = parse_command(buttons[number - 1].payload) if number is not None else None
    if parsed is not None:
        ctx.end()
        return await ctx.registry.run_command(ctx, *parsed)
    hint = ctx.t("choice.type_number", last=len(buttons))
    return [Reply(f"{hint}\n\n{data.get('text', '')}".rstrip(),
                  buttons=(*buttons, ctx.cancel_button()))]


COMMANDS = [Command("cancel", cancel, keywords=(*CANCEL_WORDS, "그만"), ends_flow_itself=True)]
FLOWS = [Flow(CHOICE_FLOW, {"choose": on_choice}, on_cancel=say_kept),
         # A confirmation only waits for its buttons; the chat goes on as usual.
         Flow(CONFIRM_FLOW, {"confirm": on_choice}, passthrough=True, on_cancel=say_kept)]
