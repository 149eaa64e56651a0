"""KakaoTalk's exported chat text, in every layout (and the ZIP the phone mails).

Layouts (../shared/reference/kakao-open-chat-export.md): iPhone Korean
("2025. 12. 15. 오전 9:45, NICK : TEXT"), Android Korean ("2025년 12월 15일 오전 9:45,
NICK : TEXT", a day's first timestamp alone on a line), English phone layouts
("December 15, 2025, 9:45 AM, NICK : TEXT", "15 December 2025, 9:45 AM", short month
names), Windows PC in Korean and English ("[NICK] [오후 1:16] TEXT" / "[1:16 PM]" under
a dashed day line), and the Mac's CSV ("Date,User,Message"). The layout is the one whose
lines match best; system lines (joins, leaves, invitations, kicks, deletions, hidden
messages, the operation-policy notice, the open chat's own bot) are recognised in each.

Parsing is pure: text in, messages and skipped lines out, every line accounted for.
Times are the chat's local times (KakaoTalk writes them in the phone's zone, which for
this community is the community's zone).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from services.uploads import in_worker

PHONE_MESSAGE = re.compile(
    r"^(\d{4})\. (\d{1,2})\. (\d{1,2})\. (오전|오후) (\d{1,2}):(\d{2})(?:, (.+?) : (.*)|: (.*))$"
)
PHONE_DAY = re.compile(r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일 [월화수목금토일]요일$")
PC_DAY = re.compile(r"^-+ (\d{4})년 (\d{1,2})월 (\d{1,2})일 [월화수목금토일]요일 -+$")
PC_MESSAGE = re.compile(r"^\[(.+?)\] \[(오전|오후) (\d{1,2}):(\d{2})\] (.*)$")
SYSTEM_TEXT = re.compile(
    r"(님이 들어왔습니다\.?|님이 나갔습니다\.?|님을 내보냈습니다\.?|메시지를 가렸습니다\.?|"
    r"채팅방 관리자가 메시지를 가렸습니다|님이 .*(?:부방장|방장).*되었습니다\.?|"
    r"초대했습니다\.?|메시지가 삭제되었습니다\.?|"
    r"이용에 제한이 있을 수 있습니다\.?|"
    r"joined this chatroom\.?|left this chatroom\.?|has been removed[^.]*\.?|"
    r"This message was deleted\.?|hidden by (?:the )?(?:host|manager)[^.]*\.?|"
    r"Operation Policy\.?)$|(?:^| )invited .+\.$"
)
MONTHS = {name.lower(): number for number, names in enumerate((
    ("January", "Jan"), ("February", "Feb"), ("March", "Mar"), ("April", "Apr"),
    ("May",), ("June", "Jun"), ("July", "Jul"), ("August", "Aug"),
    ("September", "Sep", "Sept"), ("October", "Oct"), ("November", "Nov"),
    ("December", "Dec")), 1) for name in names}
MONTH = r"([A-Za-z]{3,9})\.?"
# English dates, both orders: "December 15, 2025" / "15 December 2025" (+ "Thursday, ").
EN_DATE = (rf"(?:[A-Za-z]+, )?(?:{MONTH} (\d{{1,2}}), (\d{{4}})|(\d{{1,2}}) {MONTH},? (\d{{4}}))")
EN_TIME = r"(\d{1,2}):(\d{2})\s?([AaPp][Mm])"
ANDROID_KO = re.compile(
    r"^(\d{4})년 (\d{1,2})월 (\d{1,2})일 (오전|오후) (\d{1,2}):(\d{2})"
    r"(?:, (.+?) : (.*)|, (.*))?$")
PHONE_EN = re.compile(rf"^{EN_DATE},? (?:at )?{EN_TIME}(?:, (.+?) : (.*)|, (.*)|: (.*))?$")
PC_DAY_EN = re.compile(rf"^-+ {EN_DATE} -+$")
PC_MESSAGE_EN = re.compile(rf"^\[(.+?)\] \[{EN_TIME}\] (.*)$")
MAC_HEADER = re.compile(r"^\ufeff?Date,User,Message\s*$")
HEADERS = re.compile(r"(님과 카카오톡 대화|카카오톡 대화$|^저장한 날짜 ?: |^Talk_.*\.txt$|"
                     r"^KakaoTalk Chats? with |^Date Saved ?: |^Chat with )")
SYSTEM_NICKNAMES = {"오픈채팅봇", "카카오톡"}


class ExportUnreadable(ValueError):
    """The file is not a KakaoTalk export we can read; `reason` keys the user's message,
    `first_lines` are the first lines no layout could read (so an admin can tell a wrong
    file from an unsupported layout)."""

    def __init__(self, reason: str, first_lines: tuple[str, ...] = (),
                 limit: int | None = None) -> None:
        super().__init__(reason, first_lines, limit)  # all in args: it crosses processes
        self.reason = reason
        self.first_lines = first_lines
        self.limit = limit


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


MAX_UPLOAD = 20 * 1024 * 1024  # what Telegram lets a bot download
MAX_ENTRIES = 20_000  # files in the ZIP (the chat and its photos)
MAX_TEXT = 100 * 1024 * 1024  # the chat text, unpacked
MAX_LINES = 1_000_000


def decode_export(data: bytes, name: str = "") -> str:
    """The text of an export: a .txt file, or the chat's .txt inside the ZIP KakaoTalk
    mails (in a folder, beside photos); within the limits, a ZIP's sizes not trusted."""
    if not data:
        raise ExportUnreadable("empty")
    if len(data) > MAX_UPLOAD:
        raise ExportUnreadable("upload_too_big", limit=MAX_UPLOAD // (1024 * 1024))
    if data[:2] == b"PK" or name.lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                entries = archive.infolist()
                if len(entries) > MAX_ENTRIES:
                    raise ExportUnreadable("too_many_entries", limit=MAX_ENTRIES)
                texts = [e for e in entries if e.filename.lower().endswith(".txt")]
                if not texts:
                    raise ExportUnreadable("zip_without_text")
                chat = max(texts, key=lambda e: e.file_size)  # the chat, not a stray note
                if chat.file_size > MAX_TEXT:
                    raise ExportUnreadable("text_too_big", limit=MAX_TEXT // (1024 * 1024))
                with archive.open(chat) as stream:
                    data = stream.read(MAX_TEXT + 1)
                if len(data) > MAX_TEXT:
                    raise ExportUnreadable("text_too_big", limit=MAX_TEXT // (1024 * 1024))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
                zlib.error) as exc:
            raise ExportUnreadable("bad_zip") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExportUnreadable("not_text") from exc


def read_chat_export(data: bytes, name: str, zone: ZoneInfo) -> ParsedExport:
    """Decode and parse one export, within the limits (blocking: see `read_off_loop`)."""
    text = decode_export(data, name)
    if text.count("\n") > MAX_LINES:
        raise ExportUnreadable("too_many_lines", limit=MAX_LINES)
    return parse_export(text, zone)


async def read_off_loop(data: bytes, name: str, zone: ZoneInfo) -> ParsedExport:
    """`read_chat_export` in the upload worker process: the bot answers others meanwhile."""
    try:
        return await in_worker(read_chat_export, data, name, zone)
    except BrokenProcessPool:
        raise ExportUnreadable("not_text") from None


def detect_layout(lines: list[str]) -> str:
    """The layout whose lines match best ("unknown" when none does)."""
    if lines and MAC_HEADER.match(lines[0]):
        return "mac"
    tests = {"phone": lambda line: PHONE_MESSAGE.match(line),
             "android": lambda line: ANDROID_KO.match(line),
             "phone_en": lambda line: PHONE_EN.match(line),
             "pc": lambda line: PC_DAY.match(line) or PC_MESSAGE.match(line),
             "pc_en": lambda line: PC_DAY_EN.match(line) or PC_MESSAGE_EN.match(line)}
    scores = {name: sum(1 for line in lines[:300] if test(line)) for name, test in tests.items()}
    best = max(scores, key=lambda name: scores[name])
    return best if scores[best] else "unknown"


LAYOUTS = ("phone", "android", "phone_en", "pc", "pc_en", "mac")


def parse_export(text: str, zone: ZoneInfo) -> ParsedExport:
    text = text.removeprefix("\ufeff")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    layout = detect_layout(lines)
    result = ParsedExport(layout)
    if layout == "mac":
        _parse_mac("\n".join(lines), zone, result)
    else:
        {"phone": _parse_phone, "android": _parse_android, "phone_en": _parse_phone_en,
         "pc": _parse_pc, "pc_en": _parse_pc_en, "unknown": _parse_nothing}[layout](
            lines, zone, result)
    for message in result.messages:
        message.text = message.text.rstrip("\n")
    return result


def _en_date(groups: tuple[str | None, ...]) -> date:
    """The date of EN_DATE's groups: (month, day, year) or (day, month, year)."""
    month1, day1, year1, day2, month2, year2 = groups
    month, day, year = (month1, day1, year1) if month1 else (month2, day2, year2)
    number = MONTHS.get((month or "").lower().rstrip("."))
    if number is None:
        raise ValueError(f"not a month: {month}")
    return date(int(year or 0), number, int(day or 0))


def _en_clock(hour: str, minute: str, half: str) -> time:
    return _clock("오후" if half.lower() == "pm" else "오전", int(hour), int(minute))


def _is_system(nickname: str, text: str) -> bool:
    return nickname.strip() in SYSTEM_NICKNAMES or bool(SYSTEM_TEXT.search(text.strip()))


def _continue(result: ParsedExport, line_no: int, line: str) -> None:
    """A line without a prefix continues what came before it: a message, or a system
    line (the operation-policy notice after a join, the open chat's bot's reminder);
    before anything it is not understood."""
    last_skip = result.skipped[-1] if result.skipped else None
    if line_no <= 2 and not result.messages and not result.skipped:
        return  # the file's own header (a room's title, whatever its language)
    if result.messages and result.messages[-1].line_no > _last_skip(result):
        result.messages[-1].text += "\n" + line
    elif last_skip is not None and last_skip.reason == "system" and line.strip():
        result.skipped.append(SkippedLine(line_no, line, "system"))
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
        elif PHONE_DAY.match(line) or (line_no <= 3 and HEADERS.search(line)):
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
        elif line_no <= 3 and HEADERS.search(line):
            continue
        else:
            _continue(result, line_no, line)


def _message_or_system(result: ParsedExport, line_no: int, line: str, when: datetime,
                       nickname: str | None, text: str | None) -> None:
    if nickname is None or _is_system(nickname, text or ""):
        result.skipped.append(SkippedLine(line_no, line, "system"))
    else:
        result.messages.append(ChatMessage(line_no, when, nickname, text or ""))


def _parse_android(lines: list[str], zone: ZoneInfo, result: ParsedExport) -> None:
    for line_no, line in enumerate(lines, 1):
        match = ANDROID_KO.match(line)
        if match:
            y, mo, d, half, h, mi, nickname, text, system = match.groups()
            if nickname is None and system is None:
                continue  # a day's first timestamp alone: the day separator
            when = datetime.combine(date(int(y), int(mo), int(d)),
                                    _clock(half, int(h), int(mi)), zone)
            _message_or_system(result, line_no, line, when, nickname, text)
        elif line_no <= 3 and HEADERS.search(line):
            continue
        else:
            _continue(result, line_no, line)


def _parse_phone_en(lines: list[str], zone: ZoneInfo, result: ParsedExport) -> None:
    for line_no, line in enumerate(lines, 1):
        match = PHONE_EN.match(line)
        day = None
        if match:
            try:
                day = _en_date(match.groups()[:6])
            except ValueError:
                day = None
        if match and day is not None:
            hour, minute, half, nickname, text, system, system2 = match.groups()[6:]
            if nickname is None and system is None and system2 is None:
                continue  # the day separator
            when = datetime.combine(day, _en_clock(hour, minute, half), zone)
            _message_or_system(result, line_no, line, when, nickname, text)
        elif line_no <= 3 and HEADERS.search(line):
            continue
        else:
            _continue(result, line_no, line)


def _parse_pc_en(lines: list[str], zone: ZoneInfo, result: ParsedExport) -> None:
    day: date | None = None
    for line_no, line in enumerate(lines, 1):
        separator = PC_DAY_EN.match(line)
        if separator:
            try:
                day = _en_date(separator.groups())
            except ValueError:
                result.skipped.append(SkippedLine(line_no, line, "not_understood"))
            continue
        match = PC_MESSAGE_EN.match(line)
        if match and day is not None:
            nickname, hour, minute, half, text = match.groups()
            when = datetime.combine(day, _en_clock(hour, minute, half), zone)
            _message_or_system(result, line_no, line, when, nickname, text)
        elif SYSTEM_TEXT.search(line.strip()):
            result.skipped.append(SkippedLine(line_no, line, "system"))
        elif line_no <= 3 and HEADERS.search(line):
            continue
        else:
            _continue(result, line_no, line)


def _parse_mac(text: str, zone: ZoneInfo, result: ParsedExport) -> None:
    """The Mac's CSV: Date,User,Message, quoted, a message may span lines."""
    reader = csv.reader(io.StringIO(text))
    line_no = 1
    next(reader, None)  # the header row
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            result.skipped.append(SkippedLine(start, "", "not_understood"))
            break
        line_no = start
        if len(row) < 3:
            if any(cell.strip() for cell in row):
                result.skipped.append(SkippedLine(line_no, ",".join(row), "not_understood"))
            continue
        stamp, nickname, message = row[0], row[1], ",".join(row[2:])
        try:
            when = datetime.strptime(stamp.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
        except ValueError:
            result.skipped.append(SkippedLine(line_no, ",".join(row), "not_understood"))
            continue
        _message_or_system(result, line_no, ",".join(row), when,
                           nickname if nickname.strip() else None, message)


def _parse_nothing(lines: list[str], _zone: ZoneInfo, result: ParsedExport) -> None:
    """No layout matched: every line is listed (the first ones show in the report)."""
    for line_no, line in enumerate(lines, 1):
        if line.strip():
            result.skipped.append(SkippedLine(line_no, line, "not_understood"))
