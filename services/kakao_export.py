"""KakaoTalk's exported chat text, phone and PC layouts (and the ZIP the phone mails).

Parsing is pure: text in, messages and skipped lines out, every line accounted for.
Times are the chat's local times (KakaoTalk writes them in the phone's zone, which for
this community is the community's zone).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PHONE_MESSAGE = re.compile(
    r"^(\d{4})\. (\d{1,2})\. (\d{1,2})\. (오전|오후) (\d{1,2}):(\d{2})(?:, (.+?) : (.*)|: (.*))$"
)
PHONE_DAY = re.compile(r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일 [월화수목금토일]요일$")
PHONE_HEADER = re.compile(r"(님과 카카오톡 대화|^저장한 날짜 ?: |^Talk_.*\.txt$)")
PC_DAY = re.compile(r"^-+ (\d{4})년 (\d{1,2})월 (\d{1,2})일 [월화수목금토일]요일 -+$")
PC_MESSAGE = re.compile(r"^\[(.+?)\] \[(오전|오후) (\d{1,2}):(\d{2})\] (.*)$")
SYSTEM_TEXT = re.compile(
    r"(님이 들어왔습니다\.?|님이 나갔습니다\.?|님을 내보냈습니다\.?|메시지를 가렸습니다\.?|"
    r"채팅방 관리자가 메시지를 가렸습니다|님이 .*(?:부방장|방장).*되었습니다\.?)$"
)
SYSTEM_NICKNAMES = {"오픈채팅봇", "카카오톡"}


class ExportUnreadable(ValueError):
    """The file is not a KakaoTalk export we can read; `reason` keys the user's message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ChatMessage:
    line_no: int
    when: datetime
    nickname: str
    text: str


@dataclass
class SkippedLine:
    line_no: int
    text: str
    reason: str  # "system" (joins, leaves, hidden, the open chat's bot) or "not_understood"


@dataclass
class ParsedExport:
    layout: str  # "phone" or "pc"
    messages: list[ChatMessage] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)


def _clock(half: str, hour: int, minute: int) -> time:
    """오전 12:xx is just after midnight, 오후 12:xx just after noon."""
    hour = hour % 12 + (12 if half == "오후" else 0)
    return time(hour, minute)


def decode_export(data: bytes, name: str = "") -> str:
    """The text of an export: a .txt file, or the first .txt inside the ZIP KakaoTalk mails."""
    if not data:
        raise ExportUnreadable("empty")
    if data[:2] == b"PK" or name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                texts = [n for n in archive.namelist() if n.lower().endswith(".txt")]
                if not texts:
                    raise ExportUnreadable("zip_without_text")
                data = archive.read(sorted(texts)[0])
        except zipfile.BadZipFile as exc:
            raise ExportUnreadable("bad_zip") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportUnreadable("not_text") from exc


def detect_layout(lines: list[str]) -> str:
    for line in lines[:200]:
        if PC_DAY.match(line) or PC_MESSAGE.match(line):
            return "pc"
        if PHONE_MESSAGE.match(line):
            return "phone"
    return "phone"


def parse_export(text: str, zone: ZoneInfo) -> ParsedExport:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    layout = detect_layout(lines)
    parse = _parse_pc if layout == "pc" else _parse_phone
    result = ParsedExport(layout)
    parse(lines, zone, result)
    for message in result.messages:
        message.text = message.text.rstrip("\n")
    return result


def _is_system(nickname: str, text: str) -> bool:
    return nickname.strip() in SYSTEM_NICKNAMES or bool(SYSTEM_TEXT.search(text.strip()))


def _continue(result: ParsedExport, line_no: int, line: str) -> None:
    """A line without a prefix continues the previous message (or is not understood)."""
    if result.messages and result.messages[-1].line_no > _last_skip(result):
        result.messages[-1].text += "\n" + line
    elif line.strip():
        result.skipped.append(SkippedLine(line_no, line, "not_understood"))


def _last_skip(result: ParsedExport) -> int:
    return result.skipped[-1].line_no if result.skipped else 0


def _parse_phone(lines: list[str], zone: ZoneInfo, result: ParsedExport) -> None:
    for line_no, line in enumerate(lines, 1):
        match = PHONE_MESSAGE.match(line)
        if match:
            y, mo, d, half, h, mi, nickname, text, system = match.groups()
            when = datetime.combine(date(int(y), int(mo), int(d)),
                                    _clock(half, int(h), int(mi)), zone)
            if system is not None or _is_system(nickname or "", text or ""):
                result.skipped.append(SkippedLine(line_no, line, "system"))
            else:
                result.messages.append(ChatMessage(line_no, when, nickname, text))
        elif PHONE_DAY.match(line) or (line_no <= 3 and PHONE_HEADER.search(line)):
            continue  # day separators and the header (its date is not a message date)
        else:
            _continue(result, line_no, line)


def _parse_pc(lines: list[str], zone: ZoneInfo, result: ParsedExport) -> None:
    day: date | None = None
    for line_no, line in enumerate(lines, 1):
        separator = PC_DAY.match(line)
        if separator:
            day = date(*(int(g) for g in separator.groups()))
            continue
        match = PC_MESSAGE.match(line)
        if match and day is not None:
            nickname, half, h, mi, text = match.groups()
            if _is_system(nickname, text):
                result.skipped.append(SkippedLine(line_no, line, "system"))
                continue
            when = datetime.combine(day, _clock(half, int(h), int(mi)), zone)
            result.messages.append(ChatMessage(line_no, when, nickname, text))
        elif SYSTEM_TEXT.search(line.strip()):
            result.skipped.append(SkippedLine(line_no, line, "system"))
        elif line_no <= 3 and PHONE_HEADER.search(line):
            continue
        else:
            _continue(result, line_no, line)
