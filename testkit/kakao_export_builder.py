# ruff: noqa: E501 (export lines are as long as KakaoTalk writes them)
"""Builds KakaoTalk open-chat export files in every layout, for the tests and benchmarks.

Layouts (the shapes of ../shared/reference/kakao-open-chat-export.md, lines made up):
"iphone", "iphone_en", "android", "android_en" (`day_first=True`: "15 December 2025"),
"pc", "pc_en" and "mac"; a 12- or 24-hour clock; LF or CRLF; with or without a BOM; as
the phone mails it (a ZIP with a folder and media). The builder remembers what it wrote:
`expected` holds each message as (time, nickname, text) and `system_lines` how many lines
are system lines, so a test can compare a parse with the truth.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

WEEKDAYS_KO = "월화수목금토일"
LAYOUTS = ("iphone", "iphone_en", "android", "android_en", "pc", "pc_en", "mac")
ENGLISH = {"iphone_en", "android_en", "pc_en"}
POLICY_KO = "운영정책을 위반한 메시지로 신고 접수 시 카카오톡 이용에 제한이 있을 수 있습니다."
POLICY_EN = ("You may temporarily be banned from using KakaoTalk if other members report "
             "you for violating our Operation Policy.")
FILTER_KO = ("그룹 오픈채팅방에서 동영상·압축파일 전송 시 전기통신사업법에 따라 방송통신심의위원회에서 "
             "불법촬영물등으로 심의·의결한 정보에 해당하는지 비교·식별 후 전송을 제한하는 조치가 "
             "적용됩니다. 불법촬영물등을 전송할 경우 관련 법령에 따라 처벌받을 수 있사오니 서비스 "
             "이용 시 유의하여 주시기 바랍니다.")
# What a system line says, per kind: (Korean, English); {a} and {b} are people.
SYSTEM_WORDS = {
    "join": ("{a}님이 들어왔습니다.", "{a} joined this chatroom."),
    "leave": ("{a}님이 나갔습니다.", "{a} left this chatroom."),
    "invite": ("{a}님이 {b}님을 초대했습니다.", "{a} invited {b}."),
    "invite_many": ("{a}님이 {b}님, 최민아님과 정다은님을 초대했습니다.",
                    "{a} invited {b}, Mina and Dana."),
    "kick": ("채팅방 관리자가 {a}님을 내보냈습니다.", "{a} has been removed from this chatroom."),
    "deleted": ("메시지가 삭제되었습니다.", "This message was deleted."),
    "hidden": ("채팅방 관리자가 메시지를 가렸습니다.", "This message has been hidden by the host."),
    "policy": (POLICY_KO, POLICY_EN),
    "filter": (FILTER_KO, FILTER_KO),
}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def ko_half(moment: datetime) -> str:
    """`오전 9:45` / `오후 12:05`: Korean 12-hour clock."""
    hour = moment.hour % 12 or 12
    return f"{'오전' if moment.hour < 12 else '오후'} {hour}:{moment.minute:02d}"


def en_half(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


@dataclass
class ExportBuilder:
    layout: str = "iphone"
    title: str = "품앗이 오픈채팅"
    saved: datetime = datetime(2025, 12, 22, 15, 13)
    clock24: bool = False
    day_first: bool = False  # android_en: "15 December 2025"
    short_months: bool = False
    narrow_space: bool = False  # "9:45\u202fAM", as newer phones write it in English
    lines: list[str] = field(default_factory=list)
    expected: list[tuple[datetime, str, str]] = field(default_factory=list)
    system_lines: int = 0
    _day: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        assert self.layout in LAYOUTS, self.layout
        saved = self.saved
        self.lines += {
            "iphone": [f"{self.title} 님과 카카오톡 대화",
                       f"저장한 날짜 : {saved:%Y. %-m. %-d.} {self._clock(saved)}", ""],
            "iphone_en": [f"Talk_{saved:%Y.%-m.%-d %H:%M}-1.txt",
                          f"Date Saved : {self._en_date(saved)} at {self._clock(saved)}", ""],
            "android": [f"{self.title} 카카오톡 대화",
                        f"저장한 날짜 : {self._ko_date(saved)} {self._clock(saved)}", "", ""],
            "android_en": [f"KakaoTalk Chats with {self.title}",
                           f"Date Saved : {self._en_date(saved)}, {self._clock(saved)}", "", ""],
            "pc": [f"{self.title} 님과 카카오톡 대화", f"저장한 날짜 : {saved:%Y-%m-%d %H:%M:%S}", ""],
            "pc_en": [f"{self.title} with KakaoTalk Chats",
                      f"Date Saved : {saved:%Y-%m-%d %H:%M:%S}", ""],
            "mac": ["Date,User,Message"],
        }[self.layout]

    # ---- the pieces of a line

    @property
    def english(self) -> bool:
        return self.layout in ENGLISH

    def _clock(self, moment: datetime) -> str:
        if self.clock24:
            return f"{moment:%H:%M}"
        if not self.english:
            return ko_half(moment)
        return en_half(moment).replace(" ", "\u202f") if self.narrow_space else en_half(moment)

    @staticmethod
    def _ko_date(moment: datetime) -> str:
        return f"{moment.year}년 {moment.month}월 {moment.day}일"

    def _en_date(self, moment: datetime) -> str:
        month = MONTHS[moment.month - 1]
        if self.short_months:
            month = month[:3]
        if self.day_first:
            return f"{moment.day} {month} {moment.year}"
        return f"{month} {moment.day}, {moment.year}"

    def _stamp(self, moment: datetime) -> str:
        """A phone layout's timestamp."""
        if self.layout == "iphone":
            return f"{moment:%Y. %-m. %-d.} {self._clock(moment)}"
        if self.layout == "iphone_en":
            return f"{self._en_date(moment)} at {self._clock(moment)}"
        if self.layout == "android":
            return f"{self._ko_date(moment)} {self._clock(moment)}"
        return f"{self._en_date(moment)}, {self._clock(moment)}"

    def _new_day(self, moment: datetime) -> None:
        day = (moment.year, moment.month, moment.day)
        if day == self._day or self.layout == "mac":
            return
        self._day = day
        weekday_en = moment.strftime("%A")
        label = {
            "iphone": f"{self._ko_date(moment)} {WEEKDAYS_KO[moment.weekday()]}요일",
            "iphone_en": f"{weekday_en}, {MONTHS[moment.month - 1]} {moment.day}, {moment.year}",
            "android": self._stamp(moment),
            "android_en": self._stamp(moment),
            "pc": f"{'-' * 15} {self._ko_date(moment)} {WEEKDAYS_KO[moment.weekday()]}요일 {'-' * 15}",
            "pc_en": f"{'-' * 15} {weekday_en}, {MONTHS[moment.month - 1]} {moment.day}, "
                     f"{moment.year} {'-' * 15}",
        }[self.layout]
        if self.layout.startswith("iphone") and len(self.lines) > 3:
            self.lines.append("")  # the iPhone leaves a blank line before a new day
        self.lines.append(label)

    @staticmethod
    def _quoted(text: str) -> str:
        return '"' + text.replace('"', '""') + '"'

    # ---- what a test adds

    def message(self, moment: datetime, nickname: str, text: str) -> int:
        """Add a message (several lines allowed); returns its first line number."""
        if self.layout != "mac":
            moment = moment.replace(second=0, microsecond=0)
        self._new_day(moment)
        self.expected.append((moment, nickname, text))
        first, *rest = text.split("\n")
        if self.layout == "mac":
            self.lines.append(f"{moment:%Y-%m-%d %H:%M:%S},{self._quoted(nickname)},"
                              f"{self._quoted(text)}")
            return len(self.lines) - text.count("\n")
        if self.layout in ("pc", "pc_en"):
            self.lines.append(f"[{nickname}] [{self._clock(moment)}] {first}")
        else:
            self.lines.append(f"{self._stamp(moment)}, {nickname} : {first}")
        self.lines += rest
        return len(self.lines) - len(rest)

    def system(self, moment: datetime, kind: str, a: str = "김하나", b: str = "이도윤") -> int:
        """A system line of `kind` (SYSTEM_WORDS, or "join_policy": a join and the
        operation-policy notice, on one line on a PC and after it elsewhere, or "bot":
        the open chat's bot's multi-line reminder; any other text is written as it is);
        returns its line number."""
        self._new_day(moment)
        ko, en = 1 if self.english else 0, self.english
        if kind == "bot":
            text = ("오늘의 과제는 오늘 해결하기!\n- 링크는 하루에 하나\n- 댓글은 정성껏" if not en
                    else "Today's tasks today!\n- one link a day\n- kind comments")
            return self._system_message(moment, "오픈채팅봇", text)
        if kind in ("deleted", "hidden") and self.layout not in ("pc", "pc_en"):
            # Phone layouts write these as the person's message.
            return self._system_message(moment, f"{a} @someone", SYSTEM_WORDS[kind][ko])
        if kind == "join_policy":
            join = SYSTEM_WORDS["join"][ko].format(a=a)
            policy = SYSTEM_WORDS["policy"][ko]
            if self.layout in ("pc", "pc_en"):
                return self._system_text(moment, join + policy)
            first = self._system_text(moment, join)
            self._line(policy)
            return first
        if kind not in SYSTEM_WORDS:  # the words themselves
            return self._system_text(moment, kind)
        return self._system_text(moment, SYSTEM_WORDS[kind][ko].format(a=a, b=b))

    def _line(self, text: str) -> None:
        """A line of its own that belongs to the system line before it."""
        if self.layout == "mac":  # inside the same quoted cell: still one row
            self.lines[-1] = self.lines[-1][:-1] + "\n" + text.replace('"', '""') + '"'
        else:
            self.lines.append(text)
            self.system_lines += 1

    def _system_text(self, moment: datetime, text: str) -> int:
        if self.layout in ("pc", "pc_en"):
            self.lines.append(text)
        elif self.layout == "mac":
            self.lines.append(f"{moment:%Y-%m-%d %H:%M:%S},\"\",{self._quoted(text)}")
        elif self.layout == "iphone" or self.layout == "iphone_en":
            self.lines.append(f"{self._stamp(moment)}: {text}")
        else:
            self.lines.append(f"{self._stamp(moment)}, {text}")
        self.system_lines += 1
        return len(self.lines)

    def _system_message(self, moment: datetime, nickname: str, text: str) -> int:
        first, *rest = text.split("\n")
        if self.layout == "mac":
            self.lines.append(f"{moment:%Y-%m-%d %H:%M:%S},{self._quoted(nickname)},"
                              f"{self._quoted(text)}")
            self.system_lines += 1
            return len(self.lines) - len(rest)
        if self.layout in ("pc", "pc_en"):
            self.lines.append(f"[{nickname}] [{self._clock(moment)}] {first}")
        else:
            self.lines.append(f"{self._stamp(moment)}, {nickname} : {first}")
        self.lines += rest
        self.system_lines += 1 + len(rest)
        return len(self.lines) - len(rest)

    # ---- the file

    def text(self, crlf: bool = False, bom: bool = False) -> str:
        body = "\n".join(self.lines) + "\n"
        if crlf:
            body = body.replace("\n", "\r\n")
        return ("\ufeff" if bom else "") + body

    def bytes(self, crlf: bool = False, bom: bool = False) -> bytes:
        return self.text(crlf, bom).encode()

    def file_name(self) -> str:
        return "KakaoTalk_Chat.csv" if self.layout == "mac" else "KakaoTalkChats.txt"

    def zip(self, name: str | None = None, media: bool = False) -> bytes:
        """The ZIP the phone mails: with `media`, a folder holding the chat and photos."""
        buffer = io.BytesIO()
        folder = "Kakaotalk_Chat_품앗이/" if media else ""
        files: dict[str, str | bytes] = {folder + (name or self.file_name()): self.text()}
        if media:
            files |= {folder + "2025-12-15-09-45-12.jpg": b"\xff\xd8\xff" + b"\0" * 5000,
                      folder + "3f9a0c1de1.mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 3000,
                      folder + "memo.txt": "사진 설명",
                      "__MACOSX/._KakaoTalkChats.txt": b"\0\x05\x16\x07" * 10_000}
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in files.items():  # fixed times: the same chat, the same bytes
                archive.writestr(zipfile.ZipInfo(path, date_time=(2025, 12, 22, 15, 13, 0)),
                                 data, zipfile.ZIP_DEFLATED)
        return buffer.getvalue()
