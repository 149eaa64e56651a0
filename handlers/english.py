"""English counts: "1 member", "2 members", from the number that stands before the noun.

The English catalog writes every count in the plural ("{count} members"); `singulars`
turns the noun singular where the number filled in is 1.
"""

from __future__ import annotations

import re

SINGULAR = {"posts": "post", "weeks": "week", "hours": "hour", "comments": "comment",
            "members": "member", "characters": "character", "tries": "try",
            "strikes": "strike", "messages": "message", "links": "link", "times": "time",
            "names": "name", "checks": "check", "followers": "follower", "days": "day",
            "lines": "line", "items": "item", "accounts": "account", "helpers": "helper",
            "files": "file", "requests": "request", "verdicts": "verdict"}
COUNTED = re.compile(r"\{(\w+)\} (" + "|".join(SINGULAR) + r")\b")


def singulars(template: str, values: dict[str, object]) -> str:
    def pick(found: re.Match[str]) -> str:
        value = values.get(found.group(1))
        if isinstance(value, int) and not isinstance(value, bool) and value == 1:
            return "{" + found.group(1) + "} " + SINGULAR[found.group(2)]
        return found.group(0)

    return COUNTED.sub(pick, template)
