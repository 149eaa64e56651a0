"""The week's results as a picture: each member with a bar of comments done out of owed.

Made for a phone screen (1080 px wide, text at least 26 px) and for the places a text
post reaches badly: the Telegram group post, the Kakao answer to 결과 as an image card,
and the open chat, where an admin pastes it. Korean is drawn with the font shipped in
services/fonts (a renamed NanumGothic subset, OFL), so no machine needs one installed.
Texts come from the caller, in the reader's language (services hold no texts).

Pillow works on the CPU for a while on a big community: call it off the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from services.web.board import Board
from services.week.record import is_deleted

FONT = Path(__file__).resolve().parent.parent / "fonts" / "AutogramGothic-Regular.ttf"
WIDTH = 1080
MARGIN = 48
ROW = 56
MOST_ROWS = 140  # Telegram takes photos whose width and height add up to 10,000 px
INK, MUTED, LINE = (33, 37, 41), (108, 117, 125), (222, 226, 230)
DONE, LEFT, MISSING, PAPER = (46, 160, 67), (233, 236, 239), (220, 53, 69), (255, 255, 255)


@dataclass(frozen=True)
class PictureTexts:
    """What the picture says, in the reader's language."""

    title: str  # e.g. "2026년 48주차 댓글 현황"
    summary: str  # e.g. "회원 30명 · 게시물 75개 · 완료 12명"
    checked: str  # e.g. "인스타그램 확인: 12월 3일 21:05"
    legend: str  # what the bar's colours mean: "done | missing | left", split at "|"
    done: str  # the tag of a member who owes nothing more, e.g. "완료"
    more: str  # e.g. "외 12명" (members not drawn), with {count}
    deleted: str = "(deleted)"  # a member deleted since the week was recorded
    nothing_owed: str = "-"  # the tag of a member who owes no comment that week


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT), size)


def _fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> str:
    """The text, cut with an ellipsis to fit `width` pixels."""
    if draw.textlength(text, font=_font(size)) <= width:
        return text
    while text and draw.textlength(text + "…", font=_font(size)) > width:
        text = text[:-1]
    return text + "…"


def render(board: Board, texts: PictureTexts) -> bytes:
    """The PNG: a header, then one row a member, who owes the most first."""
    shown = board.rows[:MOST_ROWS]
    rest = len(board.rows) - len(shown)
    header = 240
    height = header + ROW * len(shown) + (ROW if rest else 0) + MARGIN
    image = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 40), _fit(draw, texts.title, 44, WIDTH - 2 * MARGIN), fill=INK,
              font=_font(44), stroke_width=1, stroke_fill=INK)
    draw.text((MARGIN, 104), _fit(draw, texts.summary, 30, WIDTH - 2 * MARGIN), fill=INK,
              font=_font(30))
    draw.text((MARGIN, 146), _fit(draw, texts.checked, 26, WIDTH - 2 * MARGIN), fill=MUTED,
              font=_font(26))
    x = MARGIN
    for colour, word in zip((DONE, MISSING, LEFT), texts.legend.split("|"), strict=False):
        draw.rounded_rectangle((x, 192, x + 26, 210), radius=5, fill=colour)
        draw.text((x + 34, 186), word.strip(), fill=MUTED, font=_font(24))
        x += 34 + int(draw.textlength(word.strip(), font=_font(24))) + 28
    name_width, bar_left = 400, MARGIN + 420
    bar_width = WIDTH - MARGIN - bar_left - 150
    for index, row in enumerate(shown):
        top = header + index * ROW
        draw.line((MARGIN, top, WIDTH - MARGIN, top), fill=LINE, width=1)
        name = texts.deleted if is_deleted(row.username) else \
            f"@{row.username}" + (f" {row.display_name}" if row.display_name else "")
        draw.text((MARGIN, top + 14), _fit(draw, name, 28, name_width), fill=INK,
                  font=_font(28))
        bar_top, bar_bottom = top + 18, top + ROW - 18
        draw.rounded_rectangle((bar_left, bar_top, bar_left + bar_width, bar_bottom),
                               radius=8, fill=LEFT)
        if row.owed:
            done_width = round(bar_width * row.done / row.owed)
            missing_width = round(bar_width * row.missing / row.owed)
            if done_width:
                draw.rounded_rectangle((bar_left, bar_top, bar_left + done_width, bar_bottom),
                                       radius=8, fill=DONE)
            if missing_width:
                draw.rounded_rectangle((bar_left + bar_width - missing_width, bar_top,
                                        bar_left + bar_width, bar_bottom), radius=8,
                                       fill=MISSING)
        figure = texts.nothing_owed if not row.owed else \
            texts.done if row.left == 0 else f"{row.done}/{row.owed}"
        draw.text((WIDTH - MARGIN, top + 14), figure,
                  fill=DONE if row.owed and row.left == 0 else MUTED if not row.owed else INK,
                  font=_font(28), anchor="ra")
    if rest:
        top = header + len(shown) * ROW
        draw.text((MARGIN, top + 14), texts.more.format(count=rest), fill=MUTED,
                  font=_font(28))
    out = io.BytesIO()
    # A few flat colours and anti-aliased text: a palette of 64 keeps it sharp and small.
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(
        out, format="PNG", compress_level=6)
    return out.getvalue()
