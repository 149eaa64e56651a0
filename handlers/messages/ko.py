"""한국어 (default)."""

MESSAGES: dict[str, str] = {
    "common.cancel_button": "취소",
    "common.cancelled": "취소했어요. 다른 걸 하시려면 /help 를 보내 주세요.",
    "common.nothing_to_cancel": "진행 중인 작업이 없어요.",
    "common.expired": "이전 대화가 시간이 지나 종료됐어요. 처음부터 다시 해 주세요.",
    "common.error": "죄송해요, 처리 중 문제가 생겼어요. 잠시 후 다시 해 주세요.",
    "common.unknown_command": "모르는 명령이에요: {command}\n/help 로 쓸 수 있는 명령을 볼 수 있어요.",
    "common.not_understood": "무엇을 도와드릴까요? /help 로 쓸 수 있는 명령을 볼 수 있어요.",
    "common.private_only": "이 작업은 비밀번호를 다루므로 개인 채팅에서만 할 수 있어요. 봇에게 1:1로 보내 주세요.",
    "common.not_admin": "관리자만 쓸 수 있는 명령이에요.",
    "common.members_only": "멤버만 쓸 수 있는 명령이에요. 관리자에게 초대 코드를 받아 주세요.",
    "stranger.how_to_join": (
        "안녕하세요! 인스타그램 댓글 품앗이 봇이에요.\n"
        "참여하려면 관리자에게 초대 코드를 받아서 /start 코드 로 보내 주세요."
    ),
    "start.welcome_member": "안녕하세요, @{username} 님! 쓸 수 있는 명령은 /help 에 있어요.",
    "start.welcome_admin": "안녕하세요, 관리자님! 쓸 수 있는 명령은 /help 에 있어요.",
    "invite.linked": "@{username} 계정과 연결됐어요. 환영해요! /help 로 시작해 보세요.",
    "invite.invalid": "초대 코드를 찾을 수 없어요. 코드를 다시 확인해 주세요.",
    "invite.used": "이미 사용된 초대 코드예요. 관리자에게 새 코드를 요청해 주세요.",
    "invite.expired": "기간이 지난 초대 코드예요. 관리자에게 새 코드를 요청해 주세요.",
    "invite.platform_taken": "이 멤버는 이미 다른 계정이 연결돼 있어요. 관리자에게 문의해 주세요.",
    "help.header": "쓸 수 있는 명령:",
    "help.line": "/{command} — {description}",
    "help.keywords": "버튼이나 '도움말', '취소' 같은 말로도 쓸 수 있어요.",
    "cmd.start": "시작하기 (초대 코드: /start 코드)",
    "cmd.help": "쓸 수 있는 명령 보기",
    "cmd.lang": "언어 바꾸기 (한국어 / English)",
    "cmd.cancel": "진행 중인 작업 취소",
    "cmd.claim": "관리자 코드 등록 (/claim 코드)",
    "cmd.addhelper": "헬퍼 인스타그램 계정 추가",
    "cmd.helpers": "헬퍼 계정 목록",
    "lang.choose": "언어를 골라 주세요.",
    "lang.set": "이제 한국어로 말할게요.",
    "lang.unknown": "지원하지 않는 언어예요: {value}. 아래에서 골라 주세요.",
    "claim.usage": "관리자 코드를 함께 보내 주세요: /claim 코드",
    "claim.claimed": "관리자로 등록됐어요. /help 에서 관리자 명령을 볼 수 있어요.",
    "claim.already_admin": "이미 관리자예요.",
    "claim.invalid": "코드가 맞지 않거나 이미 사용됐어요.",
    "claim.expired": "기간이 지난 코드예요. 운영자에게 새 코드를 요청해 주세요.",
    "claim.throttled": "잘못된 코드를 너무 많이 보냈어요. 한 시간 뒤에 다시 해 주세요.",
    "addhelper.ask_username": "추가할 헬퍼 계정의 인스타그램 아이디를 보내 주세요. (예: @helper.account)",
    "addhelper.bad_username": (
        "인스타그램 아이디 형식이 아니에요: {value}\n"
        "영문 소문자, 숫자, 마침표(.), 밑줄(_)로 된 30자 이하의 아이디를 보내 주세요."
    ),
    "addhelper.exists": "@{username} 은(는) 이미 등록된 헬퍼예요. 다른 아이디를 보내 주세요.",
    "addhelper.ask_password": (
        "@{username} 의 비밀번호를 보내 주세요. 받는 즉시 채팅에서 지우고 암호화해서 저장해요."
    ),
    "addhelper.password_empty": "비밀번호가 비어 있어요. 다시 보내 주세요.",
    "addhelper.saved": "@{username} 을(를) 헬퍼로 저장했어요. 처음 쓸 때 로그인해요.",
    "helpers.empty": "등록된 헬퍼 계정이 없어요. /addhelper 로 추가해 주세요.",
    "helpers.header": "헬퍼 계정 ({count}개):",
    "helpers.line": "• @{username} — {status}",
    "helper_status.new": "아직 로그인 전",
    "helper_status.ready": "사용 가능",
    "helper_status.cooling": "잠시 쉬는 중",
    "helper_status.checkpoint": "인증 필요",
    "helper_status.disabled": "꺼짐",
}
