"""The contract between the bot and each place it speaks: what a channel can show, and
what it shows instead of what it cannot.

A handler answers with `Reply` values (text, buttons, link buttons, a picture, a file,
a progress flag, "delete the user's message"). A channel (Telegram, KakaoTalk, the
console, the outbox that keeps messages for a person's next visit) declares its
`Capabilities`; every part of a reply it cannot show becomes a visible fallback,
never nothing:

- a link button becomes the link in the text ("label: URL");
- a button becomes a line that says what to type ("type /lang en");
- a picture shown by address becomes its address ("🖼 URL"); a picture that has no
  address becomes the channel's sentence saying where to see it;
- a file becomes the channel's sentence naming it and where to get it;
- a progress edit becomes a new message where the channel can send several, or the
  finished result where it answers once (KakaoTalk);
- "delete the user's message" becomes a warning where the channel cannot delete
  (the handlers read it from `Incoming.deletes_messages`, set from `deletion`).

Delivery (bot/delivery.py) chooses a channel by these declarations alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from handlers.events import Button, Reply
from handlers.i18n import t
from services.messaging.notifier import BroadcastReport, Outgoing


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel shows of a reply; False means the declared fallback shows instead."""

    # Buttons pressed in the chat (the payload comes back as the next event).
    buttons: bool = False
    # Buttons that open a web page.
    url_buttons: bool = False
    # A picture sent as its bytes (the notice's QR code, the week's picture).
    images: bool = False
    # A picture shown by its web address (the week's picture on the web app).
    image_urls: bool = False
    # A file sent with the text (a long list as a document).
    files: bool = False
    # A progress message edited in place as long work goes on.
    edits: bool = False
    # The user's message deleted at once (it carried a password).
    deletion: bool = False
    # A message to someone who did not just write (reminders, results, admin alerts).
    push: bool = False
    # What cannot be pushed waits in the outbox and is shown with the person's next message.
    reads_outbox: bool = False
    # Posts to group chats.
    groups: bool = False
    # A person can send the bot a file (an export).
    receives_files: bool = False
    # Catalog keys of the sentences shown instead of a picture that has no address and
    # of a file, where the channel cannot show them (required then).
    picture_fallback: str = ""
    file_fallback: str = ""


class Channel(Protocol):
    """One place the bot speaks, as jobs and services reach it (see bot/delivery.py)."""

    platform: str

    @property
    def capabilities(self) -> Capabilities:
        """What this channel shows; every other part of a reply shows as its fallback."""
        ...

    @property
    def start_link(self) -> str | None:
        """A link that opens a private chat with the bot (None where there is none)."""
        ...

    @property
    def outbox(self) -> Channel | None:
        """Where a message waits for the person's next message when this channel
        cannot push (declared by `reads_outbox`); None where nothing waits."""
        ...

    async def post(self, chat_id: str, reply: Reply) -> bool:
        """Show one reply in a chat; False when the chat cannot be reached (blocked,
        removed, or no push on this channel). Parts the channel does not declare come
        as their fallbacks already (`shown`)."""
        ...

    async def broadcast(self, messages: list[Outgoing]) -> BroadcastReport:
        """Many chats at a pace the platform accepts; a message's link as a link button
        (a channel without link buttons gets it in the text already)."""
        ...


def link_line(button: Button) -> str:
    """A link button where there are none: its label and address, to open by hand."""
    return f"{button.label}: {button.url}"


def press_line(button: Button, language: str) -> str:
    """A button where there are none: what to type instead (its command, else its label)."""
    words = button.payload if button.payload.startswith("/") else button.label
    return t(language, "channel.type_to_press", label=button.label, words=words)


def picture_line(url: str) -> str:
    """A picture by its address where the channel cannot show it: the address."""
    return f"🖼 {url}"


def outgoing_reply(message: Outgoing) -> Reply:
    """A broadcast message as a reply: its text, its link as a link button."""
    buttons = (Button(message.link[0], "", url=message.link[1]),) if message.link else ()
    return Reply(message.text, buttons=buttons)


def shown_outgoing(message: Outgoing, capabilities: Capabilities) -> Outgoing:
    """A broadcast message as this channel shows it: its link in the text where there
    are no link buttons."""
    if message.link is None or capabilities.url_buttons:
        return message
    line = link_line(Button(message.link[0], "", url=message.link[1]))
    return Outgoing(message.chat_id, f"{message.text}\n\n{line}")


def shown(reply: Reply, capabilities: Capabilities, language: str) -> Reply:
    """The reply as this channel shows it: the parts it has, and each part it lacks
    written into the text as its fallback (in the reader's language)."""
    lines: list[str] = []
    buttons: list[Button] = []
    for button in reply.buttons:
        if button.url:
            if capabilities.url_buttons:
                buttons.append(button)
            else:
                lines.append(link_line(button))
        elif capabilities.buttons:
            buttons.append(button)
        else:
            lines.append(press_line(button, language))
    image, image_url = reply.image, reply.image_url
    if image is not None and not capabilities.images:
        image = None
        if image_url is None:
            lines.append(t(language, _declared(capabilities.picture_fallback, "picture")))
    if image_url is not None and image is None and not capabilities.image_urls:
        lines.append(picture_line(image_url))
        image_url = None
    elif image is not None:
        image_url = None  # the picture itself shows; its address is not needed too
    document = reply.document
    if document is not None and not capabilities.files:
        lines.append(t(language, _declared(capabilities.file_fallback, "file"),
                       name=document[0]))
        document = None
    text = "\n\n".join(part for part in (reply.text, *lines) if part)
    return replace(reply, text=text, buttons=tuple(buttons), image=image,
                   image_url=image_url, document=document)


def _declared(key: str, part: str) -> str:
    if not key:
        raise ValueError(f"a channel that cannot show a {part} must declare its fallback")
    return key
