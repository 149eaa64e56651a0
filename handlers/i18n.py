"""Message catalogs: every user-facing string, Korean (default) and English."""

from __future__ import annotations

from handlers.messages import en, ko

CATALOGS: dict[str, dict[str, str]] = {"ko": ko.MESSAGES, "en": en.MESSAGES}
DEFAULT_LANGUAGE = "ko"


def t(language: str, key: str, **values: object) -> str:
    """The text for `key` in `language` (Korean when missing), with `values` filled in."""
    catalog = CATALOGS.get(language, CATALOGS[DEFAULT_LANGUAGE])
    template = catalog.get(key) or CATALOGS[DEFAULT_LANGUAGE][key]
    return template.format(**values) if values else template
