"""Korean particles after names, picked from the name's last sound.

The catalogs write a name with both forms of its particle, as Korean writing does when
the word is unknown: "{username} 은(는)", "{url} 이(가)", "{name} 을(를)", "{x} 와(과)",
"{x} (으)로". `with_particles` fills each such pair from the value that stands before
it: "@hana는", "@minji.kim을", "@jun이" (a name read in Korean: a final l, m, n or ng
sounds a final consonant, and so do the digits 0, 1, 3, 6, 7, 8). A value whose sound
cannot be told keeps both forms.
"""

from __future__ import annotations

import re

# The two forms: (after a final consonant, after a vowel).
PAIRS = {"은(는)": ("은", "는"), "을(를)": ("을", "를"), "이(가)": ("이", "가"),
         "와(과)": ("과", "와"), "(으)로": ("으로", "로")}
SLOT = re.compile(r"\{(\w+)\}\s?(은\(는\)|을\(를\)|이\(가\)|와\(과\)|\(으\)로)")
DIGIT_FINAL = {"0": "ㅇ", "1": "ㄹ", "3": "ㅁ", "6": "ㄱ", "7": "ㄹ", "8": "ㄹ"}
RIEUL = 8  # the index of ㄹ among Hangul final consonants


def final_sound(word: str) -> str | None:
    """"consonant", "rieul" (ㄹ, which takes 로), "vowel", or None when unknown."""
    word = re.sub(r"[^0-9A-Za-z가-힣]+$", "", word)
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28
        return "vowel" if final == 0 else "rieul" if final == RIEUL else "consonant"
    if last.isdigit():
        sound = DIGIT_FINAL.get(last)
        return "vowel" if sound is None else "rieul" if sound == "ㄹ" else "consonant"
    lower = word.lower()
    if lower.endswith("l"):
        return "rieul"
    if lower.endswith(("m", "n", "ng")):
        return "consonant"
    if lower[-1] in "aeiouyrwhx" or lower.endswith(("ee", "oo")):
        return "vowel"
    return None


def particle(word: str, pair: str) -> str:
    with_final, without = PAIRS[pair]
    sound = final_sound(word)
    if sound is None:
        return pair
    if pair == "(으)로":
        return without if sound in ("vowel", "rieul") else with_final
    return without if sound == "vowel" else with_final


def with_particles(template: str, values: dict[str, object]) -> str:
    """The template with each "{name} 은(는)" made "{name}은" or "{name}는" by the value."""

    def pick(found: re.Match[str]) -> str:
        name, pair = found.group(1), found.group(2)
        if name not in values:
            return found.group(0)
        chosen = particle(str(values[name]), pair)
        return "{" + name + "}" + (chosen if chosen != pair else " " + pair)

    return SLOT.sub(pick, template)
