"""Instagram's "Download your information" export: followers and following, read locally.

The unfollow check without a password reads these files and asks Instagram nothing.
Both formats Instagram offers are understood:

- JSON: `followers_1.json` (a list; `followers_2.json` ... for big accounts) and
  `following.json` (`{"relationships_following": [...]}`); each entry holds
  `string_list_data: [{"href", "value", "timestamp"}]`; newer exports drop `value` and
  put the username in `title` and the href (`https://www.instagram.com/_u/name`).
- HTML: `followers_1.html` and `following.html`, one link per account.

They come as the whole ZIP, or as the files themselves; anything else gets a reason.

An upload is a stranger's bytes: it is read in a worker thread (`read_export_off_loop`),
within limits checked as it is read, never trusting a ZIP's own sizes: the upload's
size, the number of entries, the bytes unpacked (each file and in all), and the
accounts per list. HTML is parsed as it is unpacked, in pieces, so memory stays near
the limits whatever the file; past a limit the reading stops and the person is told
which limit it was.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import IO

from services.instagram.names import name_key
from services.uploads import in_worker

MAX_UPLOAD = 20 * 1024 * 1024  # what Telegram lets a bot download; an export ZIP is smaller
MAX_ENTRIES = 5000  # files in the ZIP ("followers and following" alone has a handful)
MAX_UNZIPPED = 60 * 1024 * 1024  # follow files unpacked, all together
MAX_FILE = 30 * 1024 * 1024  # one follow file unpacked (JSON is read whole)
MAX_ACCOUNTS = 100_000  # accounts in one list
CHUNK = 1024 * 1024
PROFILE = re.compile(r"^https?://(?:www\.)?instagram\.com/(?:_u/)?([A-Za-z0-9._]{1,30})/?$")
FILE_KIND = re.compile(r"(?:^|/)(followers(?:_\d+)?|following)\.(json|html)$", re.IGNORECASE)


class ExportProblem(Exception):
    """A file that is not (a usable part of) the export; `reason` keys the message, and
    `limit` is the limit it went past, when that is why."""

    def __init__(self, reason: str, limit: int | None = None) -> None:
        super().__init__(reason, limit)  # both in args: it crosses a process boundary
        self.reason = reason
        self.limit = limit


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
            return name_key(value)
        match = PROFILE.match(str(item.get("href", "")))
        if match:
            return name_key(match.group(1))
    title = entry.get("title")
    return name_key(title) if isinstance(title, str) and title else None


def _from_json(data: bytes) -> list[str]:
    try:
        parsed = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
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
    if len(parsed) > MAX_ACCOUNTS:
        raise ExportProblem("too_many_accounts", MAX_ACCOUNTS)
    return [name for entry in parsed if (name := _username(entry))]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.seen_tag = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen_tag = True
        if tag == "a":
            match = PROFILE.match(dict(attrs).get("href") or "")
            if match:
                self.names.add(name_key(match.group(1)))
                if len(self.names) > MAX_ACCOUNTS:
                    raise ExportProblem("too_many_accounts", MAX_ACCOUNTS)


def _from_html(chunks: Iterator[bytes]) -> list[str]:
    """Links to profiles, parsed piece by piece as the file is unpacked."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    parser = _Links()
    try:
        for chunk in chunks:
            parser.feed(decoder.decode(chunk))
        parser.feed(decoder.decode(b"", final=True))
        parser.close()
    except UnicodeDecodeError:
        raise ExportProblem("broken_file") from None
    if not parser.seen_tag:
        raise ExportProblem("not_instagram")
    return sorted(parser.names)


class _Budget:
    """Bytes unpacked so far, against the limits (a ZIP's own sizes are not trusted)."""

    def __init__(self) -> None:
        self.total = 0

    def read(self, stream: IO[bytes]) -> Iterator[bytes]:
        size = 0
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            self.total += len(chunk)
            if size > MAX_FILE:
                raise ExportProblem("file_too_big", MAX_FILE // (1024 * 1024))
            if self.total > MAX_UNZIPPED:
                raise ExportProblem("unzipped_too_big", MAX_UNZIPPED // (1024 * 1024))
            yield chunk


def _one(name: str, chunks: Iterator[bytes]) -> FollowLists:
    kind = FILE_KIND.search(name)
    if kind is None:
        raise ExportProblem("not_instagram")
    if kind.group(2).lower() == "json":
        names = _from_json(b"".join(chunks))
    else:
        names = _from_html(chunks)
    lists = FollowLists()
    if kind.group(1).lower().startswith("followers"):
        lists.followers, lists.has_followers = set(names), True
    else:
        lists.following, lists.has_following = set(names), True
    return lists


def read_export(name: str, data: bytes) -> FollowLists:
    """The follow lists in one uploaded file (the ZIP, or one JSON/HTML file), within
    the limits. Blocking: call `read_export_off_loop` from the event loop."""
    if len(data) > MAX_UPLOAD:
        raise ExportProblem("upload_too_big", MAX_UPLOAD // (1024 * 1024))
    budget = _Budget()
    if data[:2] != b"PK":
        return _one(name, budget.read(io.BytesIO(data)))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
        if len(entries) > MAX_ENTRIES:
            raise ExportProblem("too_many_entries", MAX_ENTRIES)
        follow_files = [m for m in entries if _is_follow_file(m.filename)]
        # What the ZIP declares is checked first (a quick no); what it really unpacks to
        # is counted as it is read (a ZIP can lie).
        if any(m.file_size > MAX_FILE for m in follow_files):
            raise ExportProblem("file_too_big", MAX_FILE // (1024 * 1024))
        if sum(m.file_size for m in follow_files) > MAX_UNZIPPED:
            raise ExportProblem("unzipped_too_big", MAX_UNZIPPED // (1024 * 1024))
        lists = FollowLists()
        for member in follow_files:
            with archive.open(member) as stream:
                lists.merge(_one(member.filename, budget.read(stream)))
            for which in (lists.followers, lists.following):
                if len(which) > MAX_ACCOUNTS:
                    raise ExportProblem("too_many_accounts", MAX_ACCOUNTS)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            zlib.error):
        raise ExportProblem("bad_zip") from None
    if not (lists.has_followers or lists.has_following):
        raise ExportProblem("zip_without_lists")
    return lists


async def read_export_off_loop(name: str, data: bytes) -> FollowLists:
    """`read_export` in the upload worker process: a big upload never stalls the bot,
    and its memory is the worker's, not the bot's."""
    try:
        return await in_worker(read_export, name, data)
    except BrokenProcessPool:  # the worker died (killed for its memory)
        raise ExportProblem("broken_file") from None


def _zip_names(data: bytes) -> list[str] | None:
    """The file names inside a ZIP; None when `data` is not a readable ZIP."""
    if data[:2] != b"PK" or len(data) > MAX_UPLOAD:
        return None  # (a bigger upload is refused when it is read)
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
    """A text file (the Mac's CSV), or a ZIP with one beside photos and no follow lists:
    a KakaoTalk chat export, not Instagram's (told by names alone, nothing unpacked)."""
    if name.lower().endswith((".txt", ".csv")):
        return True
    names = _zip_names(data) or []
    return any(n.lower().endswith((".txt", ".csv")) for n in names) and not any(
        _is_follow_file(n) for n in names)
