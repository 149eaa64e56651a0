"""Replies as a Kakao i Open Builder skill response (version "2.0"), within every limit.

At most 3 outputs of at most 1000 characters, at most 10 quick replies with labels of
at most 14 characters, the whole under 30 KB. What does not fit is not dropped: it is
returned as the remainder, which the endpoint keeps for a "더 보기" (more) quick reply.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Any

from bot.channels import Capabilities, link_line, press_line, shown
from bot.text import split_text
from handlers.events import Button, Reply

MAX_OUTPUTS = 3
MAX_TEXT = 1000
MAX_QUICK_REPLIES = 10
MAX_LABEL = 14
MAX_BYTES = 30 * 1024
MORE_PAYLOAD = "/more"
MAX_ALT = 50  # simpleImage altText
MAX_CARD_TITLE = 50  # textCard title
MAX_CARD_BUTTONS = 3  # textCard buttons, laid out vertically

# What a skill answer shows: quick replies, link buttons on a card, a picture by its
# address; a picture's bytes, a file, an edit or a deletion it cannot. (Pushing through
# the Event API carries text only: see bot/kakao.py.)
KAKAO_ANSWERS = Capabilities(buttons=True, url_buttons=True, image_urls=True,
                             reads_outbox=True, picture_fallback="kakao.no_picture",
                             file_fallback="kakao.no_file")


@dataclass
class Rendered:
    body: dict[str, Any]
    remainder: list[Reply] = field(default_factory=list)


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def quick_reply(button: Button) -> dict[str, Any]:
    """Pressing it sends the label as the utterance and the payload as clientExtra."""
    label = _label(button.label)
    return {"label": label, "action": "message", "messageText": label,
            "extra": {"payload": button.payload}}


def size(body: dict[str, Any]) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def render(replies: list[Reply], more_label: str, language: str = "ko") -> Rendered:
    """The skill response for `replies`, and whatever must wait for "더 보기".

    Every part of a reply shows: a picture by its address as an image card, a picture
    without an address (a skill answer cannot carry the bytes) and a file (KakaoTalk
    cannot carry one) as a line that says so and where to get it (`KAKAO_ANSWERS`'s
    fallbacks); links and buttons past what one answer holds, as lines of text."""
    pieces: list[Reply] = []  # one piece per output, each text <= 1000 characters
    room = MAX_QUICK_REPLIES  # quick replies left for the whole answer
    for original in replies:
        if not original.text.strip() and not original.buttons and original.image is None \
                and original.image_url is None and original.document is None:
            continue  # nothing to show
        reply = _within_limits(shown(original, KAKAO_ANSWERS, language), language, room)
        room -= sum(1 for b in reply.buttons if b.url is None)
        chunks = split_text(reply.text or " ", MAX_TEXT)
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            pieces.append(Reply(chunk, buttons=reply.buttons if last else (),
                                image_url=reply.image_url if last else None,
                                image=reply.image if last else None,
                                document=reply.document if last else None))
    now: list[Reply] = []
    rest: list[Reply] = []
    used = 0
    for index, piece in enumerate(pieces):  # a piece with a picture or links takes more
        used += len(_outputs(piece))
        if used > MAX_OUTPUTS and now:
            rest = pieces[index:]
            break
        now.append(piece)
    while True:
        body = _body(now, bool(rest), more_label)
        if size(body) <= MAX_BYTES or len(now) == 1:
            return Rendered(body, _with_buttons_of(now, rest))
        rest.insert(0, now.pop())


def _with_buttons_of(shown: list[Reply], rest: list[Reply]) -> list[Reply]:
    """The rest, carrying the buttons of what is shown now: while more waits, the only
    quick reply is "더 보기", so those buttons come with the rest (not lost)."""
    carried = tuple(b for piece in shown for b in piece.buttons if b.url is None)
    if not rest or not carried:
        return rest
    return [replace(rest[0], buttons=carried + rest[0].buttons), *rest[1:]]


def _outputs(piece: Reply) -> list[dict[str, Any]]:
    """A piece's text, then its picture (an image card) and its links (a card of link
    buttons: a quick reply cannot open a page)."""
    text = piece.text or " "
    outputs: list[dict[str, Any]] = [{"simpleText": {"text": text.strip() or " "}}]
    if piece.image_url:
        outputs.append({"simpleImage": {"imageUrl": piece.image_url,
                                        "altText": _label(piece.text)[:MAX_ALT] or "image"}})
    links = [b for b in piece.buttons if b.url]
    if links:
        outputs.append({"textCard": {
            "title": links[0].label[:MAX_CARD_TITLE],
            "buttons": [{"action": "webLink", "label": _label(b.label), "webLinkUrl": b.url}
                        for b in links[:MAX_CARD_BUTTONS]]}})
    return outputs


def _within_limits(reply: Reply, language: str, room: int) -> Reply:
    """Link buttons past a card's three, and buttons past the `room` quick replies the
    answer has left (ten in all), as lines of the text (an answer holds no more)."""
    links = [b for b in reply.buttons if b.url]
    others = [b for b in reply.buttons if not b.url]
    lines = [link_line(b) for b in links[MAX_CARD_BUTTONS:]] + \
        [press_line(b, language) for b in others[room:]]
    if not lines:
        return reply
    kept = tuple(links[:MAX_CARD_BUTTONS] + others[:room])
    return replace(reply, text="\n\n".join(p for p in (reply.text, *lines) if p), buttons=kept)


def _body(pieces: list[Reply], has_more: bool, more_label: str) -> dict[str, Any]:
    outputs = [output for piece in pieces for output in _outputs(piece)]
    buttons: list[Button] = []
    if has_more:
        buttons.append(Button(more_label, MORE_PAYLOAD))  # the rest's buttons come with it
    else:
        for piece in pieces:
            buttons += [b for b in piece.buttons if b.url is None]  # no link quick replies
    template: dict[str, Any] = {"outputs": outputs or [{"simpleText": {"text": " "}}]}
    if buttons:
        template["quickReplies"] = [quick_reply(b) for b in buttons[:MAX_QUICK_REPLIES]]
    return {"version": "2.0", "template": template}


def to_plain(replies: list[Reply]) -> list[dict[str, Any]]:
    """Replies as JSON for the outbox, every part kept (a link button its URL, a picture
    its URL or its bytes, a file its name and content), for whatever answer shows them
    later (KakaoTalk's "더 보기" or next message, the console's next exchange)."""
    return [{"text": r.text, "image_url": r.image_url,
             "image": None if r.image is None else base64.b64encode(r.image).decode(),
             "document": None if r.document is None
             else [r.document[0], base64.b64encode(r.document[1]).decode()],
             "buttons": [[b.label, b.payload, *([b.url] if b.url else [])]
                         for b in r.buttons]} for r in replies]


def _document(value: Any) -> tuple[str, bytes] | None:
    """A kept file: [name, base64] (a row written before files were kept: its name)."""
    if not value:
        return None
    if isinstance(value, str):
        return value, b""
    return str(value[0]), base64.b64decode(value[1])


def from_plain(items: list[dict[str, Any]]) -> list[Reply]:
    return [Reply(i["text"], image_url=i.get("image_url"),
                  image=base64.b64decode(i["image"]) if i.get("image") else None,
                  document=_document(i.get("document")),
                  buttons=tuple(Button(b[0], b[1], url=b[2] if len(b) > 2 else None)
                                for b in i.get("buttons", []))) for i in items]


def with_more(body: dict[str, Any], more_label: str) -> dict[str, Any]:
    """The body with a "more" quick reply (earlier leftovers wait), if there is room."""
    template = body["template"]
    quick = template.setdefault("quickReplies", [])
    if any(q.get("extra", {}).get("payload") == MORE_PAYLOAD for q in quick):
        return body
    if len(quick) < MAX_QUICK_REPLIES:
        quick.append(quick_reply(Button(more_label, MORE_PAYLOAD)))
    return body
