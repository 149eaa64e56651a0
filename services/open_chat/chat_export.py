"""KakaoTalk's exported chat text, in every layout (and the ZIP the phone mails).

Layouts (../shared/reference/kakao-open-chat-export.md), each with a 12- or 24-hour clock:

- iPhone: "2025. 12. 15. 오전 9:45, NICK : TEXT" under "2025년 12월 15일 월요일" day lines;
  in English "Dec 15, 2025 at 9:45 AM, NICK : TEXT" under "Monday, December 15, 2025".
- Android: "2025년 12월 15일 오전 9:45, NICK : TEXT", a day's first timestamp alone on a
  line; in English "December 15, 2025, 9:45 AM, NICK : TEXT" or "15 December 2025, ...".
- Windows PC: "[NICK] [오후 1:16] TEXT" / "[NICK] [1:16 PM] TEXT" under a dashed day line.
- Mac: a CSV, "Date,User,Message", quoted, a message may span lines.

The phone layouts tell a system line by its shape (a timestamp without "NICK : "); the PC
layout has no timestamp on system lines, so they are told by their words (SYSTEM_TEXT).
Joins, leaves, invitations, kicks, deletions, hidden messages, the operation-policy notice
and the open chat's own bot (오픈채팅봇) are system lines, with their continuation lines.

Parsing is pure: text in, messages and skipped lines out, every line accounted for.
Times are the chat's local times (KakaoTalk writes them in the phone's zone, which for
this community is the community's zone).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

# A clock: "오후 1:16", "1:16 PM", "1:16 p.m.", "13:16", "13:16:05"; newer phones put a
# narrow no-break space before "PM".
HALF = r"(?:오전|오후|[AaPp]\.? ?[Mm]\.?)"
CLOCK = rf"(?:{HALF} ?)?\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:[ \u00a0\u202f]?{HALF})?"
# iPhone (Korean): "2025. 12. 15."; 2026 iPhones may write an ISO date, "2026-03-30".
DOT_DATE = r"(?:\d{4}\. ?\d{1,2}\. ?\d{1,2}\.?|\d{4}-\d{1,2}-\d{1,2})"
KO_DATE = r"\d{4}년 ?\d{1,2}월 ?\d{1,2}일"  # Android (Korean), day lines everywhere
MONTH_WORD = r"[A-Za-z]{3,9}\.?"
# "December 15, 2025" or "15 December 2025", with or without a weekday in front.
EN_DATE = (rf"(?:[A-Za-z]+,? )?(?:{MONTH_WORD} \d{{1,2}}(?:st|nd|rd|th)?,? \d{{4}}|"
           rf"\d{{1,2}} {MONTH_WORD},? \d{{4}})")
WEEKDAY_KO = r"[월화수목금토일]요일"


def _stamped(date_pattern: str) -> re.Pattern[str]:
    """A phone layout's line: its timestamp, then nothing (a day line), ", NICK : TEXT"
    (a message) or ", TEXT" / ": TEXT" (a system line)."""
    return re.compile(rf"^(?P<date>{date_pattern})(?:,? (?:at )?| )(?P<clock>{CLOCK})"
                      rf"(?P<rest>(?:[,:] .*|[,:])?)$")


IPHONE = _stamped(DOT_DATE)
ANDROID = _stamped(KO_DATE)
PHONE_EN = _stamped(EN_DATE)
IPHONE_EN_STAMP = re.compile(rf"^{EN_DATE} at {CLOCK}")
KO_DAY = re.compile(rf"^{KO_DATE} {WEEKDAY_KO}$")
EN_DAY = re.compile(rf"^{EN_DATE}$")
PC_DAY = re.compile(rf"^-+ (?P<date>{KO_DATE} {WEEKDAY_KO}|{EN_DATE}) -+$")
PC_MESSAGE = re.compile(rf"^\[(?P<nick>.+?)\] \[(?P<clock>{CLOCK})\] ?(?P<text>.*)$")
MAC_HEADER = re.compile(r"^\ufeff?\"?(?:Date|날짜)\"?,\"?(?:User|사용자|이름)\"?,"
                        r"\"?(?:Message|메시지|내용)\"?\s*$")
# The file's own header: the room's title and the "saved on" line (its date is not a
# message's date). A fragment cut from a chat has none: its first lines are messages'.
SAVED_LINE = re.compile(r"^(?:저장한 날짜|Date Saved)\s?:")
TITLE_LINE = re.compile(r"(?:카카오톡 대화|KakaoTalk Chats? with|^Talk_[\d.]+ [\d:]+-\d+\.txt)")
HEADER_LINES = 4
# A Mac CSV row's start: its 24-hour timestamp (quoted or not), then a comma.
MAC_ROW = re.compile(r'^"?(\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}(?::\d{2})?)"?,(.*)$')

SYSTEM_TEXT = re.compile(
    r"(?:님이 들어왔습니다|님이 나갔습니다|님을 내보냈습니다|님이 내보내졌습니다|"
    r"님이 (?:오픈채팅방에 )?(?:참여|입장|퇴장)했습니다|초대했습니다|"
    r"메시지를 가렸습니다|메시지가 가려졌습니다|메시지가 삭제되었습니다|삭제된 메시지입니다|"
    r"(?:부방장|방장|관리자)(?:으로|로)? ?(?:지정|해제|변경)(?:했|되었)습니다|"
    r"권한을 (?:넘겼|위임했)습니다|님이 방장이 되었습니다|"
    r"이용에 제한이 있을 수 있습니다|유의하여 주시기 바랍니다|"
    r"joined this chat(?:room)?|left this chat(?:room)?|"
    r"(?:has been|was) removed from this chat(?:room)?|removed .+ from this chat(?:room)?|"
    r"(?:has been|was|were) (?:deleted|hidden)(?: by [^.]*)?|^Deleted message|"
    r"hidden by (?:the )?(?:host|manager|co-host)[^.]*|"
    r"Operation Policy|(?:^| )invited .+)\.?$"
)
SYSTEM_NICKNAMES = {"오픈채팅봇", "카카오톡", "Open Chat Bot", "OpenChat Bot"}
MONTHS = {name: number for number, names in enumerate((
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
    ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
    ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
    ("december", "dec")), 1) for name in names}

LAYOUTS = ("iphone", "iphone_en", "android", "android_en", "pc", "pc_en", "mac")


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


@dataclass(slots=True)
class ChatMessage:
    line_no: int
    when: datetime
    nickname: str
    text: str


@dataclass(slots=True)
class SkippedLine:
    line_no: int
    text: str
    reason: str  # "system" (joins, leaves, hidden, the open chat's bot) or "not_understood"


@dataclass
class ParsedExport:
    layout: str  # one of LAYOUTS, or "unknown"
    messages: list[ChatMessage] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    # Set when the file's quotes did not close (a Mac CSV that read as a few huge
    # messages): how many rows the CSV reading found before it was read line by line.
    csv_rows_before_lines: int | None = None


MAX_UPLOAD = 20 * 1024 * 1024  # what Telegram lets a bot download
MAX_ENTRIES = 20_000  # files in the ZIP (the chat and its photos)
MAX_TEXT = 60 * 1024 * 1024  # the chat text, unpacked
MAX_LINES = 1_000_000


def decode_export(data: bytes, name: str = "") -> str:
    """The text of an export: a .txt (or the Mac's .csv) file, or the chat inside the ZIP
    KakaoTalk mails (in a folder, beside photos); within the limits, a ZIP's sizes not
    trusted."""
    if not data:
        raise ExportUnreadable("empty")
    if len(data) > MAX_UPLOAD:
        raise ExportUnreadable("upload_too_big", limit=MAX_UPLOAD // (1024 * 1024))
    if data[:2] == b"PK" or name.lower().endswith(".zip"):
        data = _chat_in_zip(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 3:
            raise ExportUnreadable("not_text") from exc
        # A file cut short inside its last character (a copy that stopped): the rest is text.
        return data[:exc.start].decode("utf-8-sig")


def _chat_in_zip(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ENTRIES:
                raise ExportUnreadable("too_many_entries", limit=MAX_ENTRIES)
            texts = [e for e in entries if not e.is_dir()
                     and e.filename.lower().endswith((".txt", ".csv"))
                     and not e.filename.rsplit("/", 1)[-1].startswith("._")]  # Mac's forks
            if not texts:
                raise ExportUnreadable("zip_without_text")
            chat = max(texts, key=lambda e: e.file_size)  # the chat, not a stray note
            if chat.file_size > MAX_TEXT:
                raise ExportUnreadable("text_too_big", limit=MAX_TEXT // (1024 * 1024))
            with archive.open(chat) as stream:
                text = stream.read(MAX_TEXT + 1)  # the header's size may lie
            if len(text) > MAX_TEXT:
                raise ExportUnreadable("text_too_big", limit=MAX_TEXT // (1024 * 1024))
            return text
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            zlib.error, RuntimeError) as exc:  # RuntimeError: an encrypted entry
        raise ExportUnreadable("bad_zip") from exc


def read_chat_export(data: bytes, name: str, zone: ZoneInfo) -> ParsedExport:
    """Decode and parse one export, within the limits (blocking: the bot runs it in its
    upload worker, services/open_chat_import.read_digest_off_loop)."""
    text = decode_export(data, name)
    del data
    if text.count("\n") > MAX_LINES:
        raise ExportUnreadable("too_many_lines", limit=MAX_LINES)
    return parse_export(text, zone)


def parse_export(text: str, zone: ZoneInfo) -> ParsedExport:
    text = text.removeprefix("\ufeff")
    # Lines one at a time (CRLF, CR or LF), never a second copy of the whole text.
    stream = (line.rstrip("\n") for line in io.StringIO(text, newline=None))
    head = list(itertools.islice(stream, 400))
    layout = detect_layout(head)
    if layout == "mac":
        return _parse_mac(text, zone)
    lines = itertools.chain(head, stream)
    parser = _Parser(layout, zone, _header_end(head))
    if layout in ("pc", "pc_en"):
        parser.read_pc(lines)
    elif layout == "unknown":
        parser.read_nothing(lines)
    else:
        parser.read_phone(lines, _phone_pattern(layout, head))
    return parser.result


def _header_end(head: list[str]) -> int:
    """How many of the first lines are the file's header: up to the "saved on" line, or
    a title line alone; none in a fragment (its first lines are messages')."""
    for index, line in enumerate(head[:HEADER_LINES]):
        if SAVED_LINE.match(line):
            return index + 1
    return 1 if head and TITLE_LINE.search(head[0]) else 0


def _phone_pattern(layout: str, head: list[str]) -> re.Pattern[str]:
    if layout == "android":
        return ANDROID
    if layout == "iphone" or (layout == "iphone_en" and  # numeric dates, English clock
                              _count(head, IPHONE.match) > _count(head, PHONE_EN.match)):
        return IPHONE
    return PHONE_EN


def detect_layout(lines: list[str]) -> str:
    """The layout whose lines match best ("unknown" when none does)."""
    if lines and MAC_HEADER.match(lines[0].removeprefix("\ufeff")):
        return "mac"
    sample = lines[:400]  # what parse_export reads ahead
    scores = {
        "iphone": _count(sample, IPHONE.match),
        "android": _count(sample, ANDROID.match),
        "phone_en": _count(sample, PHONE_EN.match),
        "pc": _count(sample, lambda line: PC_DAY.match(line) or PC_MESSAGE.match(line)),
    }
    best = max(scores, key=lambda name: scores[name])
    if not scores[best]:
        return "unknown"
    if best == "phone_en":
        # iPhone writes "Dec 15, 2025 at 9:45 AM" under weekday day lines; Android a
        # day's first timestamp alone.
        iphone = _count(sample, IPHONE_EN_STAMP.match) > 0 or _count(sample, EN_DAY.match) > 0
        return "iphone_en" if iphone else "android_en"
    if best == "iphone" and _count(sample, lambda line: (m := IPHONE.match(line)) is not None
                                   and re.search("[AaPp]", m.group(2))):
        return "iphone_en"  # the iPhone's numeric dates with an English clock
    if best == "pc":
        english = _count(sample, lambda line: (m := PC_DAY.match(line)) is not None
                         and "년" not in m.group("date"))
        korean = _count(sample, lambda line: (m := PC_DAY.match(line)) is not None
                        and "년" in m.group("date"))
        if english > korean or (english == korean and _count(
                sample, lambda line: re.search(r"\[\d{1,2}:\d{2} ?[AaPp]", line)) > 0):
            return "pc_en"
    return best


def _count(lines: Iterable[str], test: Callable[[str], object]) -> int:
    return sum(1 for line in lines if test(line))


def read_date(text: str) -> date:
    """The date of "2025. 12. 15.", "2025년 12월 15일", "Monday, December 15, 2025" or
    "15 Dec 2025" (ValueError for an impossible one)."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    words = [w.lower().rstrip(".") for w in re.findall(r"[A-Za-z]+\.?", text)]
    months = [MONTHS[w] for w in words if w in MONTHS]
    if months:
        day, year = (numbers[0], numbers[1]) if len(numbers) >= 2 else (0, 0)
        return date(year, months[-1], day)
    if len(numbers) < 3:
        raise ValueError(f"not a date: {text}")
    return date(numbers[0], numbers[1], numbers[2])


def read_clock(text: str) -> time:
    """"오후 1:16", "1:16 PM", "13:16" or "13:16:05": 오전/AM 12:xx is just after midnight,
    오후/PM 12:xx just after noon; no half is a 24-hour clock."""
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    hour, minute, second = numbers[0], numbers[1], (numbers[2] if len(numbers) > 2 else 0)
    lowered = text.lower()
    if "오후" in text or "p" in lowered:
        hour = hour % 12 + 12
    elif "오전" in text or "a" in lowered:
        hour = hour % 12
    return time(hour, minute, second)


def is_system(nickname: str, text: str) -> bool:
    return nickname.strip() in SYSTEM_NICKNAMES or is_system_text(text)


def is_system_text(text: str) -> bool:
    """System words end a line: only its end is searched (a long message costs nothing),
    and only when it ends as one can (in 다, in an English word, or names people)."""
    tail = text.rstrip()[-300:]
    end = tail.rstrip(".")[-1:]
    if end == "다" or (end.isascii() and end.isalpha()) or "invited " in tail or \
            "hidden by" in tail or "removed " in tail:
        return bool(SYSTEM_TEXT.search(tail))
    return False


class _Parser:
    """Reads lines in order; `current` is what a line without a prefix continues: the
    last message, a system line (the policy notice after a join, the bot's reminder), or
    nothing yet (the file's header)."""

    def __init__(self, layout: str, zone: ZoneInfo, header_end: int = HEADER_LINES) -> None:
        self.result = ParsedExport(layout)
        self.header_end = header_end  # the header's last line (0: none)
        self.zone = zone
        self.current: list[str] | None = None  # the lines of the message being read
        self.in_system = False
        self.started = False
        # Timestamps and nicknames repeat: each is read, and kept in memory, once.
        self.days: dict[str, date] = {}
        self.clocks: dict[str, time] = {}
        self.nicknames: dict[str, str] = {}

    def when(self, day: str | date, clock: str) -> datetime:
        """The moment of a date (text, or a PC's day) and a clock; ValueError if none."""
        if isinstance(day, str):
            found = self.days.get(day)
            if found is None:
                found = self.days[day] = read_date(day)
            day = found
        moment = self.clocks.get(clock)
        if moment is None:
            moment = self.clocks[clock] = read_clock(clock)
        return datetime.combine(day, moment, self.zone)

    def message(self, line_no: int, when: datetime, nickname: str, text: str) -> None:
        self._close()
        self.current = [text]
        nickname = self.nicknames.setdefault(nickname, nickname)
        self.result.messages.append(ChatMessage(line_no, when, nickname, ""))
        self.in_system, self.started = False, True

    def system(self, line_no: int, line: str) -> None:
        self._close()
        self.result.skipped.append(SkippedLine(line_no, line, "system"))
        self.in_system, self.started = True, True

    def day(self) -> None:
        self._close()
        self.in_system, self.started = False, True

    def other(self, line_no: int, line: str) -> None:
        """A line without a prefix of its own."""
        if self.current is not None:
            self.current.append(line)
        elif not line.strip():
            return
        elif self.in_system:
            self.result.skipped.append(SkippedLine(line_no, line, "system"))
        elif not self.started and (line_no <= self.header_end or SAVED_LINE.match(line)):
            return  # the file's own header (a room's title, the "saved on" line)
        else:
            self.result.skipped.append(SkippedLine(line_no, line, "not_understood"))

    def _close(self) -> None:
        if self.current is not None:
            self.result.messages[-1].text = "\n".join(self.current).rstrip()
            self.current = None

    def read_phone(self, lines: Iterable[str], pattern: re.Pattern[str]) -> None:
        # Korean timestamps start with the year: a line that does not is read at once.
        numeric = pattern is not PHONE_EN
        for line_no, line in enumerate(lines, 1):
            match = pattern.match(line) if not numeric or line[:1].isdigit() else None
            if match is None:
                if KO_DAY.match(line) or EN_DAY.match(line):
                    self.day()
                elif not self.started and SAVED_LINE.match(line):
                    continue
                else:
                    self.other(line_no, line)
                continue
            day, clock, rest = match.group(1, 2, 3)
            try:
                when = self.when(day, clock)
            except ValueError:
                self.other(line_no, line)
                continue
            if not rest:
                self.day()  # a day's first timestamp alone (Android)
                continue
            nickname, colon, text = rest[2:].partition(" : ")
            if not colon and rest.endswith(" :"):
                nickname, colon, text = rest[2:-2], " : ", ""
            if not colon or is_system(nickname, text):
                self.system(line_no, line)
            else:
                self.message(line_no, when, nickname, text)
        self._close()

    def read_pc(self, lines: Iterable[str]) -> None:
        day: date | None = None
        for line_no, line in enumerate(lines, 1):
            separator = PC_DAY.match(line)
            if separator:
                try:
                    day = read_date(separator["date"])
                    self.day()
                except ValueError:
                    self.other(line_no, line)
                continue
            match = PC_MESSAGE.match(line)
            if match and day is not None:
                if is_system(match["nick"], match["text"]):
                    self.system(line_no, line)
                else:
                    when = self.when(day, match["clock"])
                    self.message(line_no, when, match["nick"], match["text"])
            elif SYSTEM_TEXT.search(line.strip()):
                self.system(line_no, line)
            elif not self.started and SAVED_LINE.match(line):
                continue
            else:
                self.other(line_no, line)
        self._close()

    def read_nothing(self, lines: Iterable[str]) -> None:
        """No layout matched: every line is listed (the first ones show in the report)."""
        for line_no, line in enumerate(lines, 1):
            if line.strip():
                self.result.skipped.append(SkippedLine(line_no, line, "not_understood"))


def _parse_mac(text: str, zone: ZoneInfo) -> ParsedExport:
    """The Mac's CSV: Date,User,Message, quoted, a message may span lines. A file whose
    lines look like many more rows than the CSV reading found (a quote that never
    closes swallows the rows after it) is read again line by line, by timestamps."""
    result = _parse_mac_csv(text, zone)
    rows = len(result.messages) + len(result.skipped)
    stamped = sum(1 for line in io.StringIO(text, newline=None) if MAC_ROW.match(line))
    if stamped > rows:  # a row start inside a message: a quote swallowed rows
        result = _parse_mac_lines(text, zone)
        result.csv_rows_before_lines = rows
    return result


def _mac_row(line_no: int, stamp: str, nickname: str, message: str, zone: ZoneInfo,
             result: ParsedExport) -> None:
    """One row: a message, a system line, or a line not understood."""
    raw = ",".join((stamp, nickname, message))
    numbers = [int(n) for n in re.findall(r"\d+", stamp)]
    try:
        when = datetime(*numbers[:6], tzinfo=zone)  # type: ignore[misc]
        if len(numbers) < 5:
            raise ValueError(stamp)
    except (TypeError, ValueError):
        result.skipped.append(SkippedLine(line_no, raw, "not_understood"))
        return
    if not nickname.strip() or is_system(nickname, message):
        result.skipped.append(SkippedLine(line_no, raw, "system"))
    else:
        result.messages.append(ChatMessage(line_no, when, nickname,
                                           message.replace("\r\n", "\n").rstrip()))


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith('"'):
        cell = cell[1:-1] if cell.endswith('"') and len(cell) > 1 else cell[1:]
    return cell.replace('""', '"')


def _parse_mac_lines(text: str, zone: ZoneInfo) -> ParsedExport:
    """A Mac CSV read by its lines: a line that starts with a timestamp starts a row,
    the lines after it continue that row's message; quotes are taken off, not obeyed."""
    result = ParsedExport("mac")
    row: tuple[int, str, str, list[str]] | None = None

    def close() -> None:
        if row is not None:
            line_no, stamp, nickname, parts = row
            _mac_row(line_no, stamp, nickname, _unquote("\n".join(parts)), zone, result)

    for line_no, line in enumerate(io.StringIO(text, newline=None), 1):
        line = line.rstrip("\n")
        match = MAC_ROW.match(line)
        if match is None:
            if row is not None:
                row[3].append(line)
            elif line_no > 1 and line.strip():
                result.skipped.append(SkippedLine(line_no, line, "not_understood"))
            continue
        close()
        rest = match.group(2)
        if rest.startswith('"') and '",' in rest:
            nickname, _, message = rest[1:].partition('",')
        else:
            nickname, _, message = rest.partition(",")
        row = (line_no, match.group(1), nickname.replace('""', '"'), [message])
    close()
    return result


def _parse_mac_csv(text: str, zone: ZoneInfo) -> ParsedExport:
    """The CSV as a CSV reader reads it."""
    result = ParsedExport("mac")
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    next(reader, None)  # the header row
    while True:
        line_no = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            result.skipped.append(SkippedLine(line_no, "", "not_understood"))
            break
        if len(row) < 3:
            if any(cell.strip() for cell in row):
                result.skipped.append(SkippedLine(line_no, ",".join(row), "not_understood"))
            continue
        _mac_row(line_no, row[0], row[1], ",".join(row[2:]), zone, result)
    return result
