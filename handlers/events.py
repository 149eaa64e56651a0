"""Incoming events and replies as plain values, the contract between handlers and transports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ChatKind = Literal["private", "group"]


@dataclass(frozen=True, slots=True)
class Incoming:
    platform: str
    chat_id: str
    chat_kind: ChatKind
    user_id: str
    user_name: str
    text: str = ""
    # Set when a button was pressed; a payload starting with "/" is a command line.
    payload: str | None = None
    message_id: str | None = None
    # The language of the user's app, used for a first contact only.
    language_hint: str | None = None
    chat_title: str | None = None
    # False where the bot cannot delete the user's messages (KakaoTalk): password steps warn.
    deletes_messages: bool = True
    # False where a person cannot send the bot a file (KakaoTalk): answers that ask for
    # one say what works there instead.
    sends_files: bool = True
    # A file the user sent (an open-chat export), with its name.
    attachment: bytes | None = None
    attachment_name: str | None = None
    # The file's size as the platform announced it (a file too big to download arrives
    # empty, with this size, so the person is told the limit).
    attachment_size: int | None = None
    # True where the bot can send files (Telegram): long lists go as a text document.
    takes_documents: bool = False
    # The platform's id of this delivery where the transport records deliveries (Telegram
    # updates): marked handled in the event's own transaction, so its effects happen once.
    delivery_id: int | None = None


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    payload: str
    # A link button (opens the URL) where the platform has them; payload is then unused.
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = field(default=())
    # Delete the user's message at once (it carried a password) where the platform can.
    delete_incoming: bool = False
    # A progress message: later replies for the same work edit it in place.
    progress: bool = False
    # A PNG shown with the text (the open-chat QR code of the notice).
    image: bytes | None = None
    # A picture on the web app, shown by URL where the platform takes only URLs (Kakao's
    # image card); platforms that take files get `image` instead.
    image_url: str | None = None
    # A file sent with the text: (file name, content), where the platform takes files.
    document: tuple[str, bytes] | None = None


def clean_text(text: str) -> str:
    """What a database can store of a message: no NUL, no lone surrogate halves."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
