"""Instagram usernames are put in their compared form in one place,
services/instagram/names.py: whoever read a name (an export, a chat nickname, Instagram
itself, an admin's command) compares it in the same form."""

from __future__ import annotations

import re
from pathlib import Path

from services.instagram.names import as_typed, name_key, normalize_username
from services.open_chat.importer import instagram_id
from services.unfollow.instagram_export import read_export

ROOT = Path(__file__).resolve().parent.parent
# Taking a name apart by hand: its '@' off, or its case folded (the bot's own Telegram
# name, `self.username`, is no Instagram name).
BY_HAND = re.compile(r'(?:lstrip|removeprefix)\("@"\)|(?<!self\.)username\b\)?\.lower\(\)'
                     r'|\["username"\]\)?\.lower\(\)')


def test_no_module_but_names_py_folds_an_instagram_name_by_hand() -> None:
    found = [f"{path.relative_to(ROOT)}:{n}" for folder in ("services", "handlers", "bot", "jobs")
             for path in sorted((ROOT / folder).rglob("*.py"))
             if path != ROOT / "services/instagram/names.py"
             for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             if BY_HAND.search(line)]
    assert found == []


def test_a_name_read_anywhere_is_compared_in_the_same_form() -> None:
    assert name_key(" @Kim.Minji ") == normalize_username("@Kim.Minji") == "kim.minji"
    assert as_typed(" @Kim.Minji") == "Kim.Minji"
    assert instagram_id("김민지 @Kim.Minji", {"kim.minji": 1}) == ("kim.minji", None)
    export = (b'[{"string_list_data": [{"value": "Kim.Minji", '
              b'"href": "https://www.instagram.com/Kim.Minji"}]}]')
    assert read_export("followers_1.json", export).followers == {"kim.minji"}
