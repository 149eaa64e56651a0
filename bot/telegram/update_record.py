"""What a webhook body must look like to be recorded as a Telegram update."""

from __future__ import annotations

from typing import Any

UPDATE_OBJECTS = ("message", "edited_message", "callback_query", "my_chat_member",
                  "chat_member", "channel_post", "edited_channel_post")
MAX_ID = 2**63 - 1  # a signed 64-bit column (BIGINT on PostgreSQL, INTEGER on SQLite)


def storable_id(number: int) -> bool:
    return 0 <= number <= MAX_ID


def update_problem(body: Any) -> str | None:
    """Why a webhook body is not an update Telegram would send (None: it looks like one)."""
    if not isinstance(body, dict):
        return "an update must be a JSON object"
    if not isinstance(body.get("update_id"), int) or isinstance(body.get("update_id"), bool):
        return "update_id must be an integer"
    if not storable_id(body["update_id"]):
        return "update_id out of range"
    for key in UPDATE_OBJECTS:
        if key in body and not isinstance(body[key], dict):
            return f"{key} must be an object"
    return None
