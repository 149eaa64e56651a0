"""Words that name a command leave a flow; several links in one message get one reply."""

from __future__ import annotations

from handlers.dispatcher import Dispatcher
from services.container import Services
from tests.support.chat_driver import Person
from tests.support.members import make_member


async def test_menu_words_leave_a_flow(dispatcher: Dispatcher, services: Services) -> None:
    minji = Person(dispatcher, "minji", platform="kakao")
    await make_member(services, minji, "minji")
    for word, answer in (("내 현황", "이번 주"), ("결과", "지난주"), ("도움말", "쓸 수 있는 명령")):
        await minji.say("링크 제출")
        assert "게시물 링크를 보내 주세요" in minji.text
        await minji.say(word)
        assert answer in minji.text and "링크" not in minji.text.split("\n")[0], word
    await minji.say("/consumer")
    await minji.say("공지")
    assert "공지" in minji.text and "아이디" not in minji.text


async def test_five_links_in_one_message_get_one_reply(
    dispatcher: Dispatcher, services: Services
) -> None:
    minji = Person(dispatcher, "minji")
    await make_member(services, minji, "minji")
    links = [f"https://www.instagram.com/p/MINJI{n:04d}x/" for n in range(4)]
    replies = await minji.say(" ".join([*links, "https://instagram.com/stories/minji/1/"]))
    assert len(replies) == 1
    text = replies[0].text
    assert text.count("• ") == 5 and text.count("접수했어요") == 3
    assert "최대" in text or "3개" in text  # the fourth is over the maximum, and says so
    assert "스토리" in text
    labels = [b.label for b in replies[0].buttons]
    assert len(labels) == len(set(labels))


def test_korean_particles_follow_the_names_last_sound() -> None:
    from handlers.i18n import t
    from handlers.korean import particle

    assert t("ko", "deluser.removed", username="jun") == "@jun을 삭제했어요."
    assert t("ko", "deluser.removed", username="yuna") == "@yuna를 삭제했어요."
    assert t("ko", "admin.suspended", username="하나", until="월요일").startswith("@하나는 ")
    assert t("ko", "admin.suspended", username="민준", until="월요일").startswith("@민준은 ")
    assert t("ko", "admin.reactivated", username="seoul") == "@seoul이 다시 활동해요."
    assert particle("kim_7", "(으)로") == "로" and particle("hana_3", "(으)로") == "으로"
    assert particle("길", "(으)로") == "로" and particle("책", "(으)로") == "으로"
    assert particle("xyz.", "이(가)") == "이(가)" or particle("xyz.", "이(가)") in ("이", "가")
    assert "은(는)" not in t("ko", "admin.not_suspended", username="minji")


async def test_words_that_fit_the_moment(dispatcher: Dispatcher, services: Services) -> None:
    from handlers.i18n import t
    from tests.support.members import make_admin

    minji = Person(dispatcher, "minji")
    await make_member(services, minji, "minji")
    assert "매주" in minji.text and "2~3개" in minji.text  # the welcome states the rules
    await minji.say("https://www.instagram.com/p/MINJI0001x/")
    await minji.say("제출 취소")
    await minji.press("취소")
    assert "그대로 두었어요" in minji.text  # the picker's cancel keeps the links
    await minji.say("/unfollow")
    boss = Person(dispatcher, "boss")
    await make_admin(services, boss)
    await boss.say("/deluser nobody.here")
    assert "nobody.here" in boss.text and "삭제할까요" not in boss.text
    await boss.say("/results 2030-W10")
    assert "아직 오지 않은 주" in boss.text
    await boss.say("/audit")
    assert "unfollow" not in boss.text  # a member's own action is not an admin's
    assert t("en", "week.total", posts=1, members=1) == "Total: 1 post · 1 member"
    assert t("en", "week.total", posts=2, members=3) == "Total: 2 posts · 3 members"


async def test_a_menu_word_leaves_every_flow(dispatcher: Dispatcher, services: Services) -> None:
    from tests.support.members import make_admin

    boss = Person(dispatcher, "boss")
    await make_admin(services, boss)
    await boss.say("/addme boss.kim")
    for start in ("/submit", "/addhelper", "/setnotice", "/consumer", "/producer",
                  "/unfollowlogin", "/unfollow"):
        await boss.say(start)
        await boss.say("도움말")
        assert "쓸 수 있는 명령" in boss.text, start
        await boss.say("/cancel")
        assert "진행 중인 작업이 없어요" in boss.text, start  # the flow was left
