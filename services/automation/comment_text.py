"""The words of automatic comments: polite, on the post's topic, one distinct text per
producer on a post.

Members disliked casual 반말 and samey "AI-sounding" comments, so the built-in writer
speaks 존댓말 from a varied phrase bank, picks a topic from the caption when it can,
and never gives two producers the same text on one post. The OpenAI-compatible writer
asks a chat-completions endpoint and falls back to the built-in one on any error or
timeout.
"""

from __future__ import annotations

import json
import logging
import random
import re
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)

TOPICS: dict[str, tuple[str, ...]] = {
    "food": ("맛집", "먹", "음식", "요리", "디저트", "빵", "브런치", "food", "dinner", "lunch"),
    "cafe": ("카페", "커피", "라떼", "coffee", "cafe"),
    "travel": ("여행", "바다", "산", "제주", "travel", "trip", "beach"),
    "fitness": ("운동", "헬스", "필라테스", "러닝", "요가", "workout", "gym", "run"),
    "pet": ("강아지", "고양이", "댕댕", "냥", "dog", "cat", "puppy"),
    "fashion": ("코디", "옷", "패션", "ootd", "outfit", "fashion"),
}
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "ko": {
        "food": ("정말 맛있어 보여요! 어디인지 궁금해요 😋", "보기만 해도 배가 고파지네요 ㅎㅎ",
                 "플레이팅이 너무 예뻐요, 저도 꼭 먹어 보고 싶어요!",
                 "색감이 살아 있어서 더 맛있어 보입니다 👍"),
        "cafe": ("분위기 너무 좋은 카페네요 ☕", "커피 한 잔의 여유가 느껴져요, 좋은 하루 보내세요!",
                 "공간이 참 아늑해 보여요, 저장해 둘게요!", "사진에서 커피 향이 나는 것 같아요 ㅎㅎ"),
        "travel": ("풍경이 정말 멋져요! 덕분에 여행 온 기분이에요 ✈️", "하늘 색이 너무 예쁘네요, 힐링됩니다",
                   "여기 꼭 가 보고 싶어요! 좋은 추억 만드세요", "사진만 봐도 마음이 시원해져요 🌊"),
        "fitness": ("꾸준히 하시는 모습 정말 멋져요 💪", "자극 받고 갑니다! 오늘도 화이팅이에요",
                    "건강한 에너지가 느껴져요, 응원합니다!", "대단하세요, 저도 오늘 운동하러 가야겠어요 ㅎㅎ"),
        "pet": ("너무 귀여워요 🥰 이름이 궁금해요!", "표정이 정말 사랑스러워요",
                "보는 것만으로도 행복해지네요 🐾", "건강하게 오래오래 함께하길 바랄게요!"),
        "fashion": ("코디 정말 센스 있으세요 👏", "색 조합이 너무 예뻐요, 참고할게요!",
                    "분위기랑 잘 어울리는 스타일이에요", "오늘 룩 최고예요 ✨"),
        "any": ("사진 분위기가 정말 좋아요 😊", "오늘도 좋은 게시물 감사합니다!",
                "느낌이 너무 좋네요, 잘 보고 갑니다 🙌", "색감이 예뻐서 한참 보게 되네요",
                "다음 게시물도 기대할게요!", "편안한 느낌이라 좋아요, 좋은 하루 보내세요 🌿",
                "정성이 느껴지는 사진이에요 👍", "볼 때마다 기분이 좋아지는 피드예요"),
    },
    "en": {
        "food": ("This looks delicious! Where is it? 😋", "Now I'm hungry, beautiful plating!"),
        "cafe": ("Such a cozy cafe ☕", "I can almost smell the coffee, lovely shot!"),
        "travel": ("What a view! Feels like a little trip ✈️", "Beautiful place, enjoy it!"),
        "fitness": ("So inspiring, keep it up 💪", "Love the consistency, well done!"),
        "pet": ("So adorable 🥰", "That face made my day 🐾"),
        "fashion": ("Great outfit 👏", "Love the colors in this look ✨"),
        "any": ("Lovely photo, great mood 😊", "Thanks for sharing this!",
                "Really nice vibe here 🙌", "Beautiful colors, love it",
                "Looking forward to your next post!", "Such a calm, pleasant shot 🌿"),
    },
}


class CommentWriter(Protocol):
    async def write(self, caption: str, count: int, language: str = "ko") -> list[str]:
        """`count` distinct comments for one post."""
        ...


def topic_of(caption: str) -> str:
    lowered = caption.lower()
    for topic, words in TOPICS.items():
        if any(word in lowered for word in words):
            return topic
    return "any"


class BuiltinWriter:
    """The phrase bank: topic phrases first, then general ones, shuffled, all distinct."""

    def __init__(self, seed: int | None = None) -> None:
        self.random = random.Random(seed)

    async def write(self, caption: str, count: int, language: str = "ko") -> list[str]:
        bank = PHRASES.get(language, PHRASES["ko"])
        topical = list(bank.get(topic_of(caption), ()))
        general = [p for p in bank["any"] if p not in topical]
        self.random.shuffle(topical)
        self.random.shuffle(general)
        pool = topical + general
        texts = pool[:count]
        endings = "🙂✨👏🌸💫🌼"
        while len(texts) < count:  # more producers than phrases: vary the ending
            i = len(texts)
            texts.append(f"{pool[i % len(pool)]} {endings[(i // len(pool) - 1) % len(endings)]}")
        return texts


class OpenAIWriter:
    """Any OpenAI-compatible chat-completions endpoint; the built-in writer on failure."""

    def __init__(self, base_url: str, model: str, api_key: str, *, timeout: float = 15.0,
                 fallback: CommentWriter | None = None) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout
        self.fallback = fallback or BuiltinWriter()

    def _prompt(self, caption: str, count: int, language: str) -> str:
        speech = ("Write in polite Korean (존댓말), never 반말." if language == "ko"
                  else "Write in English.")
        return (f"Write {count} different short, warm Instagram comments for a post with "
                f"this caption: {caption[:500]!r}. {speech} Sound like a real person: "
                "specific to the post, no hashtags, at most one emoji, each under 60 "
                "characters, all different in wording. Answer with a JSON list of strings.")

    async def write(self, caption: str, count: int, language: str = "ko") -> list[str]:
        body = {"model": self.model, "temperature": 0.9, "messages": [
            {"role": "user", "content": self._prompt(caption, count, language)}]}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with aiohttp.ClientSession(timeout=timeout) as http, \
                    http.post(self.url, json=body, headers=headers) as response:
                if response.status != 200:
                    raise ValueError(f"status {response.status}")
                answer = await response.json(content_type=None)
            texts = _texts(answer["choices"][0]["message"]["content"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, IndexError,
                TypeError) as exc:
            log.warning("comment writer endpoint failed (%s); using the built-in phrases",
                        type(exc).__name__)
            return await self.fallback.write(caption, count, language)
        texts = list(dict.fromkeys(t for t in texts if t))[:count]
        if len(texts) < count:
            more = await self.fallback.write(caption, count, language)
            texts += [t for t in more if t not in texts][: count - len(texts)]
        return texts


def _texts(content: str) -> list[str]:
    """A JSON list of strings, or one comment a line (models do both)."""
    content = content.strip()
    match = re.search(r"\[.*\]", content, re.DOTALL)
    if match:
        try:
            parsed = json.loads(match.group(0))
            if isinstance(parsed, list):
                return [str(x).strip() for x in parsed if str(x).strip()]
        except ValueError:
            pass
    lines = [re.sub(r"^\s*(?:\d+[.)]|[-*•])\s*", "", line).strip().strip('"')
             for line in content.splitlines()]
    if not any(lines):
        raise ValueError("empty answer")
    return [line for line in lines if line]
