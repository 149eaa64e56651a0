"""Every text of the catalogs, rendered as a user reads it: with names that end in a
vowel, a consonant, a digit and Latin letters. Korean particles fit the name before
them, no particle stands apart from its word, Korean texts use Korean words where there
are some, and no internal code shows."""

from __future__ import annotations

import re
import string

import pytest

from handlers.i18n import t
from handlers.korean import final_sound, particle
from handlers.messages import en, ko

# A Hangul name ending in a vowel, one ending in a consonant (and ㄹ), a name ending in a
# digit read with a final consonant (3: 삼), one with a vowel (2: 이), Latin letters.
NAMES = ("하나", "민준", "서울", "helper3", "followers_2", "kim.minji", "seojun")
PARTICLES = "을를은는이가과와로"
# A particle standing apart from the word it belongs to ("@hana 의", "/newlink 를").
APART = re.compile(r"(?<=[^\s(\[{'\"“‘]) "
                   r"(의|을|를|은|는|과|와|로|으로|에서|에게|에는|에도|처럼|보다)(?=[\s.,!?:)\]]|$)")
# English words a Korean text should say in Korean (the commands and settings excepted).
ENGLISH = re.compile(r"\b(consumer|producer|helper|member|admin|strike|login|password|"
                     r"pending|approved?|week|results?|status)\b", re.IGNORECASE)
# Internal codes: snake_case words (settings in capitals excepted).
CODE = re.compile(r"(?<![/{\w.@-])[a-z]+_[a-z_]+\b")
NOT_WORDS = re.compile(r"/[a-z]+|\{[^}]*\}|https?://\S+|[\w.-]+\.(?:com|kr)\S*|"
                       r"`[^`]*`|\b[A-Z][A-Z_]{2,}\b|@[\w.]+|\"[^\"]*\"")


def fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def rendered(language: str, key: str, name: str) -> str:
    template = (ko.MESSAGES if language == "ko" else en.MESSAGES)[key]
    return t(language, key, **dict.fromkeys(fields(template), name))


@pytest.mark.parametrize("name", NAMES)
def test_every_korean_particle_fits_the_name_before_it(name: str) -> None:
    wrong = []
    for key, template in ko.MESSAGES.items():
        if not fields(template):
            continue
        text = rendered("ko", key, name)
        for pair in ("은(는)", "을(를)", "이(가)", "와(과)", "(으)로"):
            if f"{name} {pair}" in text or f"{name}{pair}" in text:
                wrong.append(f"{key}: {pair} left after {name}: {text[:80]}")
        for found in re.finditer(re.escape(name) + r"( ?)(으로|[" + PARTICLES + r"])(?![가-힣])",
                                 text):
            space, said = found.groups()
            pair = {"을": "을(를)", "를": "을(를)", "은": "은(는)", "는": "은(는)",
                    "이": "이(가)", "가": "이(가)", "과": "와(과)", "와": "와(과)",
                    "로": "(으)로", "으로": "(으)로"}[said]
            if space or (final_sound(name) and particle(name, pair) != said):
                wrong.append(f"{key}: {name}{space}{said}: {text[:80]}")
    assert not wrong, "\n".join(wrong)


def test_no_korean_particle_stands_apart_from_its_word() -> None:
    wrong = [f"{key}: {found.group(0)!r} in {text[:90]}"
             for key in ko.MESSAGES
             for text in [rendered("ko", key, "하나")]
             for found in [APART.search(text)] if found]
    assert not wrong, "\n".join(wrong)


def test_korean_texts_use_korean_words() -> None:
    wrong = []
    for key, template in ko.MESSAGES.items():
        plain = NOT_WORDS.sub(" ", template)
        if found := ENGLISH.search(plain):
            wrong.append(f"{key}: {found.group(0)!r} in {template[:80]}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("catalog", [ko.MESSAGES, en.MESSAGES], ids=["ko", "en"])
def test_no_text_shows_an_internal_code(catalog: dict[str, str]) -> None:
    wrong = []
    for key, template in catalog.items():
        if found := CODE.search(NOT_WORDS.sub(" ", template)):
            wrong.append(f"{key}: {found.group(0)!r} in {template[:80]}")
    assert not wrong, "\n".join(wrong)


def test_both_catalogs_have_the_same_keys_and_fields() -> None:
    assert set(ko.MESSAGES) == set(en.MESSAGES)
    differ = [key for key in ko.MESSAGES
              if set(fields(ko.MESSAGES[key])) != set(fields(en.MESSAGES[key]))]
    assert not differ, differ


def test_english_help_lines_read_alike() -> None:
    uneven = [key for key, text in en.MESSAGES.items()
              if key.startswith("cmd.") and not text[:1].islower()]
    assert not uneven, uneven
