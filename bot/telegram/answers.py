"""An update's answer as JSON, as the outbox keeps it between the commit and the sending."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from handlers.dispatcher import Outcome
from handlers.events import Button, Incoming, Reply


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def reply_to_plain(reply: Reply) -> dict[str, Any]:
    """A reply as JSON for the outbox: all that Telegram shows of it."""
    return {"text": reply.text,
            "buttons": [[b.label, b.payload, *([b.url] if b.url else [])]
                        for b in reply.buttons],
            "delete_incoming": reply.delete_incoming, "progress": reply.progress,
            "image": None if reply.image is None else _b64(reply.image),
            "image_url": reply.image_url,
            "document": None if reply.document is None
            else [reply.document[0], _b64(reply.document[1])]}


def reply_from_plain(item: dict[str, Any]) -> Reply:
    document = item.get("document")
    return Reply(
        item["text"],
        buttons=tuple(Button(b[0], b[1], url=b[2] if len(b) > 2 else None)
                      for b in item.get("buttons", [])),
        delete_incoming=bool(item.get("delete_incoming")),
        progress=bool(item.get("progress")),
        image=None if item.get("image") is None else base64.b64decode(item["image"]),
        image_url=item.get("image_url"),
        document=None if document is None else (document[0], base64.b64decode(document[1])))


def answer_item(event: Incoming, outcome: Outcome, now: datetime | None) -> dict[str, Any]:
    """An update's whole answer as JSON: the chat, the message to delete (a password),
    the admin menu to set, the replies."""
    menu = [outcome.language, outcome.member] \
        if outcome.menu_changed and event.chat_kind == "private" else None
    return {"chat_id": int(event.chat_id), "message_id": event.message_id,
            "menu": menu, "replies": [reply_to_plain(r) for r in outcome.replies],
            "queued_at": None if now is None else now.isoformat()}
