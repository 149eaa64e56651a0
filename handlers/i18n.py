"""Message catalogs: every user-facing string, Korean (default) and English."""

from __future__ import annotations

from handlers.english import singulars
from handlers.korean import with_particles
from handlers.messages import en, ko

CATALOGS: dict[str, dict[str, str]] = {"ko": ko.MESSAGES, "en": en.MESSAGES}
DEFAULT_LANGUAGE = "ko"


def t(language: str, key: str, **values: object) -> str:
    """The text for `key` in `language` (Korean when missing), with `values` filled in."""
    catalog = CATALOGS.get(language, CATALOGS[DEFAULT_LANGUAGE])
    template = catalog.get(key) or CATALOGS[DEFAULT_LANGUAGE][key]
    if not values:
        return template
    if catalog is CATALOGS["ko"] or key not in catalog:
        template = with_particles(template, values)
    else:
        template = singulars(template, values)
    return template.format(**values)
