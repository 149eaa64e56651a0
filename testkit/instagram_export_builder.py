"""Instagram "Download your information" files, in Instagram's own layouts (JSON old and
new, HTML), for tests of the unfollow check."""

from __future__ import annotations

import io
import json
import zipfile

FOLDER = "connections/followers_and_following/"


def _entry(name: str, new_style: bool) -> dict[str, object]:
    if new_style:  # 2024+: the name moved to the title, the href has /_u/
        return {"title": name, "string_list_data": [
            {"href": f"https://www.instagram.com/_u/{name}", "timestamp": 1730000000}]}
    return {"title": "", "media_list_data": [], "string_list_data": [
        {"href": f"https://www.instagram.com/{name}", "value": name, "timestamp": 1700000000}]}


def followers_json(names: list[str], new_style: bool = False) -> bytes:
    return json.dumps([_entry(n, new_style) for n in names]).encode()


def following_json(names: list[str], new_style: bool = False) -> bytes:
    return json.dumps({"relationships_following": [_entry(n, new_style) for n in names]}
                      ).encode()


def html(title: str, names: list[str]) -> bytes:
    rows = "".join(
        f'<div class="pam _3-95 _2ph- _a6-g uiBoxWhite noborder"><div class="_a6-p"><div>'
        f'<div><a target="_blank" href="https://www.instagram.com/{n}">{n}</a></div>'
        f"<div>Nov 20, 2025 9:13 pm</div></div></div></div>" for n in names)
    return (f'<html><head><title>{title}</title></head><body><div class="_a706" '
            f'role="main">{rows}</div></body></html>').encode()


def export_zip(followers: list[str], following: list[str], kind: str = "json") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if kind == "json":
            archive.writestr(FOLDER + "followers_1.json", followers_json(followers))
            archive.writestr(FOLDER + "following.json", following_json(following))
        else:
            archive.writestr(FOLDER + "followers_1.html", html("Followers", followers))
            archive.writestr(FOLDER + "following.html", html("Following", following))
        archive.writestr("personal_information/personal_information.json", b"{}")
    return buffer.getvalue()
