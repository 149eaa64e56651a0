"""Builds KakaoTalk open-chat export files in the phone and PC layouts, for the tests."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime

WEEKDAYS = "월화수목금토일"


def _half(moment: datetime) -> str:
    """`오전 9:45` / `오후 12:05`: Korean 12-hour clock."""
    hour = moment.hour % 12 or 12
    return f"{'오전' if moment.hour < 12 else '오후'} {hour}:{moment.minute:02d}"


@dataclass
class ExportBuilder:
    layout: str = "phone"  # or "pc"
    title: str = "품앗이 오픈채팅"
    saved: datetime = datetime(2025, 12, 22, 15, 13)
    lines: list[str] = field(default_factory=list)
    _day: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        if self.layout == "phone":
            self.lines += [
                f"{self.title} 님과 카카오톡 대화",
                f"저장한 날짜 : {self.saved:%Y. %-m. %-d.} {_half(self.saved)}",
                "",
            ]

    def _new_day(self, moment: datetime) -> None:
        day = (moment.year, moment.month, moment.day)
        if day == self._day:
            return
        self._day = day
        label = f"{moment.year}년 {moment.month}월 {moment.day}일 {WEEKDAYS[moment.weekday()]}요일"
        self.lines.append(label if self.layout == "phone" else f"{'-' * 15} {label} {'-' * 15}")

    def message(self, moment: datetime, nickname: str, text: str) -> int:
        """Add a message (several lines allowed); returns its first line number."""
        self._new_day(moment)
        first, *rest = text.split("\n")
        if self.layout == "phone":
            self.lines.append(f"{moment:%Y. %-m. %-d.} {_half(moment)}, {nickname} : {first}")
            self.lines += rest
        else:
            stamp = f"[{nickname}] [{_half(moment)}]"
            self.lines.append(f"{stamp} {first}")
            self.lines += rest
        return len(self.lines) - len(rest)

    def system(self, moment: datetime, text: str) -> int:
        self._new_day(moment)
        if self.layout == "phone":
            self.lines.append(f"{moment:%Y. %-m. %-d.} {_half(moment)}: {text}")
        else:
            self.lines.append(text)
        return len(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def bytes(self) -> bytes:
        return self.text().encode()

    def zip(self, name: str = "KakaoTalkChats.txt") -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(name, self.text())
        return buffer.getvalue()
