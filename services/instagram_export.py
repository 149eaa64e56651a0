"""Instagram's "Download your information" export: followers and following, read locally.

The unfollow check without a password reads these files and asks Instagram nothing.
Both formats Instagram offers are understood:

- JSON: `followers_1.json` (a list; `followers_2.json` ... for big accounts) and
  `following.json` (`{"relationships_following": [...]}`); each entry holds
  `string_list_data: [{"href", "value", "timestamp"}]`; newer exports drop `value` and
  put the username in `title` and the href (`https://www.instagram.com/_u/name`).
- HTML: `followers_1.html` and `following.html`, one link per account.

They come as the whole ZIP, or as the files themselves; anything else gets a reason.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from html.parser import HTMLParser

MAX_UNZIPPED = 200 * 1024 * 1024  # an export's follow files are far smaller
PROFILE = re.compile(r"^https?://(?:www\.)?instagram\.com/(?:_u/)?([A-Za-z0-9._]{1,30})/?$")
FILE_KIND = re.compile(r"(?:^|/)(followers(?:_\d+)?|following)\.(json|html)$", re.IGNORECASE)


class ExportProblem(Exception):
    """A file that is not (a usable part of) the export; `reason` keys the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class FollowLists:
    followers: set[str] = field(default_factory=set)
    following: set[str] = field(default_factory=set)
    has_followers: bool = False
    has_following: bool = False

    def merge(self, other: FollowLists) -> None:
        self.followers |= other.followers
        self.following |= other.following
        self.has_followers |= other.has_followers
        self.has_following |= other.has_following

    @property
    def complete(self) -> bool:
        return self.has_followers and self.has_following


def _username(entry: dict[str, object]) -> str | None:
    items = entry.get("string_list_data") or []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        value = item.get("value")
        if isinstance(value, str) and value:
            return value.lower()
        match = PROFILE.match(str(item.get("href", "")))
        if match:
            return match.group(1).lower()
    title = entry.get("title")
    return title.lower() if isinstance(title, str) and title else None


def _from_json(data: bytes) -> list[str]:
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise ExportProblem("broken_file") from None
    if isinstance(parsed, dict):  # {"relationships_following": [...]} and the like
        lists = [v for k, v in parsed.items() if k.startswith("relationships_")
                 and isinstance(v, list)]
        if not lists:
            raise ExportProblem("not_instagram")
        parsed = lists[0]
    if not isinstance(parsed, list) or not all(isinstance(e, dict) for e in parsed):
        raise ExportProblem("not_instagram")
    if parsed and not any("string_list_data" in e for e in parsed):
        raise ExportProblem("not_instagram")
    return [name for entry in parsed if (name := _username(entry))]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            match = PROFILE.match(dict(attrs).get("href") or "")
            if match:
                self.names.append(match.group(1).lower())


def _from_html(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportProblem("broken_file") from None
    if "<" not in text:
        raise ExportProblem("not_instagram")
    parser = _Links()
    parser.feed(text)
    return parser.names


def _one(name: str, data: bytes) -> FollowLists:
    kind = FILE_KIND.search(name)
    if kind is None:
        raise ExportProblem("not_instagram")
    names = (_from_json if kind.group(2).lower() == "json" else _from_html)(data)
    lists = FollowLists()
    if kind.group(1).lower().startswith("followers"):
        lists.followers, lists.has_followers = set(names), True
    else:
        lists.following, lists.has_following = set(names), True
    return lists


def read_export(name: str, data: bytes) -> FollowLists:
    """The follow lists in one uploaded file (the ZIP, or one JSON/HTML file)."""
    if data[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
            members = [m for m in archive.infolist() if _is_follow_file(m.filename)]
            if sum(m.file_size for m in members) > MAX_UNZIPPED:
                raise ExportProblem("too_big")
            lists = FollowLists()
            for member in members:
                lists.merge(_one(member.filename, archive.read(member)))
        except zipfile.BadZipFile:
            raise ExportProblem("bad_zip") from None
        if not (lists.has_followers or lists.has_following):
            raise ExportProblem("zip_without_lists")
        return lists
    return _one(name, data)


def _zip_names(data: bytes) -> list[str] | None:
    """The file names inside a ZIP; None when `data` is not a readable ZIP."""
    if data[:2] != b"PK":
        return None
    try:
        return zipfile.ZipFile(io.BytesIO(data)).namelist()
    except zipfile.BadZipFile:
        return None


def _is_follow_file(name: str) -> bool:
    return FILE_KIND.search("/" + name.replace("\\", "/").rsplit("/", 1)[-1]) is not None


def looks_like_export(name: str, data: bytes) -> bool:
    """Whether an uploaded file is (part of) Instagram's export rather than, say, a
    KakaoTalk chat export: by its name, or by the follow files inside a ZIP."""
    if _is_follow_file(name):
        return True
    return any(_is_follow_file(n) for n in _zip_names(data) or [])


def looks_like_chat_export(name: str, data: bytes) -> bool:
    """A text file, or a ZIP of text files: a KakaoTalk chat export, not Instagram's."""
    if name.lower().endswith(".txt"):
        return True
    names = _zip_names(data)
    return bool(names) and all(n.lower().endswith(".txt") or n.endswith("/")
                               for n in names or [])
