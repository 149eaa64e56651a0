"""Links to the web pages: the week board, its picture, and each member's personal page.

A personal link (`/m/<token>`) needs no login: the token is signed (HMAC-SHA256 with a
key derived from the newest ENCRYPTION_KEYS key; any configured key is accepted, so a
rotation does not break links until the old key goes), expires after LINK_DAYS, and is
revoked by raising the member's link epoch (`/newlink`, at most NEWLINKS_PER_DAY a
community day). It carries the member's random link secret (made with the member, never
reused: a deleted member's link cannot open the page of anyone added later, as an id
could), the epoch (32 bits: it never wraps) and the expiry. A token is read strictly:
base64url without padding, of its exact length, or it is not one of ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.week.calendar import Week
from storage.models import Member

LINK_DAYS = 14  # a weekly reminder's link lasts its week and the next
NEWLINKS_PER_DAY = 3  # /newlink a member may send in a community day
_PAYLOAD = struct.Struct(">16sII")  # link secret, epoch, expiry (unix seconds)
_SIGNATURE_BYTES = 12
# 24 and 12 bytes: base64 of whole 3-byte groups, so no padding and one spelling only.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{16}")


class BoardMode(Enum):
    PUBLIC = "public"  # anyone with the link sees each member's open posts
    PRIVATE = "private"  # the board shows counts; lists need the personal link


class LinkProblem(Enum):
    TAMPERED = "tampered"  # not a token we signed (or signed with a key now gone)
    EXPIRED = "expired"
    REVOKED = "revoked"  # a newer link was made, or the member left


@dataclass(frozen=True)
class Holder:
    """Whom a valid personal link belongs to."""

    member_id: int
    username: str
    status: str  # the member's status now (only "active" ones see their page)
    expires: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text)  # only ever given _TOKEN's parts


def _signing_key(fernet_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"autogram personal web link").derive(fernet_key.encode())


class WebLinks:
    """Where the web app is reached from outside, and the personal links' signer."""

    # Whether the web pages have an address at all (NoWebLinks: they have not).
    available = True

    def __init__(self, root: str, board: BoardMode = BoardMode.PUBLIC,
                 keys: list[str] | None = None, public: bool = True) -> None:
        self.root = root.rstrip("/")
        self.board = board
        # Whether the root was given (WEB_PUBLIC_URL): only then can KakaoTalk's servers
        # fetch a picture from it (a local root still serves the console and the LAN).
        self.public = public
        self._keys = [_signing_key(k) for k in keys or []]

    @property
    def personal(self) -> bool:
        """Whether personal links can be made (they need ENCRYPTION_KEYS)."""
        return bool(self._keys)

    def week_url(self, week: Week | None = None) -> str:
        return f"{self.root}/week" + (f"/{week.label}" if week is not None else "")

    def picture_url(self, week: Week) -> str:
        return f"{self.root}/week/{week.label}.png"

    def notice_qr_url(self, qr_image: bytes) -> str:
        """The current notice's QR code (addressed by its content, so KakaoTalk never
        shows a cached older one)."""
        return f"{self.root}/notice/qr.png?v={hashlib.sha256(qr_image).hexdigest()[:12]}"

    def _sign(self, key: bytes, payload: bytes) -> bytes:
        return hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]

    def token(self, secret: bytes, epoch: int, now: datetime) -> str:
        expires = int((now + timedelta(days=LINK_DAYS)).timestamp())
        payload = _PAYLOAD.pack(secret, epoch, expires)
        return f"{_b64(payload)}.{_b64(self._sign(self._keys[0], payload))}"

    def read(self, token: str, now: datetime) -> tuple[bytes, int, datetime] | LinkProblem:
        """(link secret, epoch, expiry) of a token we signed, else what is wrong with it."""
        if not _TOKEN.fullmatch(token):
            return LinkProblem.TAMPERED
        body, signature = token.split(".")
        payload, given = _unb64(body), _unb64(signature)
        secret, epoch, expires = _PAYLOAD.unpack(payload)
        if not any(hmac.compare_digest(given, self._sign(key, payload)) for key in self._keys):
            return LinkProblem.TAMPERED
        ends = datetime.fromtimestamp(expires, UTC)
        if ends <= now:
            return LinkProblem.EXPIRED
        return secret, epoch, ends

    async def personal_url(self, session: AsyncSession, member_id: int,
                           now: datetime) -> str | None:
        """The member's personal page (None: no keys to sign with)."""
        if not self.personal:
            return None
        row = (await session.execute(select(Member.link_secret, Member.link_epoch)
                                     .where(Member.id == member_id))).first()
        if row is None:
            return None
        return f"{self.root}/m/{self.token(row.link_secret, row.link_epoch, now)}"

    async def personal_urls(self, session: AsyncSession, member_ids: list[int],
                            now: datetime) -> dict[int, str]:
        """Member id -> personal page, for many at once (a reminder to everyone)."""
        if not self.personal or not member_ids:
            return {}
        rows = await session.execute(select(Member.id, Member.link_secret, Member.link_epoch)
                                     .where(Member.id.in_(member_ids)))
        return {member_id: f"{self.root}/m/{self.token(secret, epoch, now)}"
                for member_id, secret, epoch in rows.all()}

    async def holder(self, session: AsyncSession, token: str,
                     now: datetime) -> Holder | LinkProblem:
        """Who a personal link opens the page of, if it still does."""
        read = self.read(token, now) if self.personal else LinkProblem.TAMPERED
        if isinstance(read, LinkProblem):
            return read
        secret, epoch, expires = read
        row = (await session.execute(
            select(Member.id, Member.link_epoch, Member.status, Member.instagram_username)
            .where(Member.link_secret == secret))).first()
        if row is None or row.link_epoch != epoch or row.status == "removed":
            return LinkProblem.REVOKED
        return Holder(row.id, row.instagram_username, row.status, expires)

    async def revoke(self, session: AsyncSession, member_id: int) -> None:
        """Every personal link made so far stops working."""
        await session.execute(update(Member).where(Member.id == member_id)
                              .values(link_epoch=Member.link_epoch + 1))

    async def renew(self, session: AsyncSession, member_id: int, today: date) -> bool:
        """`/newlink`: revoke every link so far, at most NEWLINKS_PER_DAY times on the
        community's day `today` (False: the day's new links are used up; nothing changed)."""
        row = (await session.execute(select(Member.links_made_on, Member.links_made)
                                     .where(Member.id == member_id))).first()
        if row is None:
            return False
        made = row.links_made if row.links_made_on == today else 0
        if made >= NEWLINKS_PER_DAY:
            return False
        await session.execute(update(Member).where(Member.id == member_id).values(
            link_epoch=Member.link_epoch + 1, links_made_on=today, links_made=made + 1))
        return True


class NoWebLinks(WebLinks):
    """The web links of a mode whose web pages have no address (a bare container, a
    script): says so (`available` is False), makes no personal link and no public one."""

    available = False

    def __init__(self) -> None:
        super().__init__("", public=False)
