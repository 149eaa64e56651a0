"""All tables; importing this package registers them on `Base.metadata`."""

from storage.models.accountability import MemberWeek, Strike
from storage.models.base import Base, utcnow
from storage.models.instagram_accounts import CommentLog, Consumer, Helper, Producer
from storage.models.members import Admin, ChatAccount, Invite, Member, MemberName
from storage.models.operations import (
    AuditEntry,
    ConversationState,
    GroupChat,
    JobRun,
    Notice,
    Outbox,
    TelegramUpdate,
)
from storage.models.records import (
    WeekCorrection,
    WeekRecord,
    WeekRecordEntry,
    WeekRecordMember,
    WeekRecordPost,
)
from storage.models.submissions import PostRead, Submission, Verification
from storage.models.unfollow import FollowSnapshot, FollowWhitelist

__all__ = [
    "Admin",
    "AuditEntry",
    "Base",
    "ChatAccount",
    "CommentLog",
    "Consumer",
    "ConversationState",
    "FollowSnapshot",
    "FollowWhitelist",
    "GroupChat",
    "Helper",
    "Invite",
    "JobRun",
    "Member",
    "MemberName",
    "MemberWeek",
    "Notice",
    "Outbox",
    "PostRead",
    "Producer",
    "Strike",
    "Submission",
    "TelegramUpdate",
    "Verification",
    "WeekCorrection",
    "WeekRecord",
    "WeekRecordEntry",
    "WeekRecordMember",
    "WeekRecordPost",
    "utcnow",
]
