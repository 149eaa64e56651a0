"""The handler modules the bot is made of, plugged into one `Registry` in routing order.

Adding a feature means adding its module's declarations here: its commands (and their
words), its flows (and what their `/cancel` says), the content it takes without a
command (a file, an invite code, a link) and the background work `/cancel` stops. The
dispatcher routes by what this builds and knows no feature itself.
"""

from __future__ import annotations

from handlers import (
    accountability,
    admin,
    checks_on_demand,
    flow_control,
    helper_admin,
    member_week,
    onboarding,
    open_chat,
    producers,
    unfollow,
    web_links,
)
from handlers.registry import Registry


def build_registry() -> Registry:
    """Called once, by the dispatcher the transports share."""
    return Registry.of(
        # In /help's and the menus' order; a name or a word names one command only.
        commands=[
            *onboarding.COMMANDS,
            *flow_control.COMMANDS,
            *member_week.COMMANDS,
            *admin.COMMANDS,
            *open_chat.COMMANDS,
            *helper_admin.COMMANDS,
            *checks_on_demand.COMMANDS,
            *accountability.COMMANDS,
            *unfollow.COMMANDS,
            *producers.COMMANDS,
            *web_links.COMMANDS,
        ],
        flows=[*helper_admin.FLOWS, *member_week.FLOWS, *admin.FLOWS, *unfollow.FLOWS,
               *producers.FLOWS, *flow_control.FLOWS],
        # Tried in this order: an admin's chat export before the catch-all Instagram
        # export; an invite code before a link.
        triggers=[*open_chat.TRIGGERS, *unfollow.TRIGGERS, *onboarding.TRIGGERS,
                  *member_week.TRIGGERS],
        stops=[*unfollow.STOPS],
    )
