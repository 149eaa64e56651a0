"""The gateway on instagrapi: reads, writes and logins through Instagram's mobile API.

instagrapi is blocking: each request runs in a worker thread of the gateway's own small
pool, with a real timeout, and holds it only for the HTTP. The pacing between requests
(INSTAGRAM_DELAY_*, and instagrapi's request_timeout pause) is waited on the event loop,
so a thousand helpers reading at once are a thousand timers, not a thousand threads
asleep (and a read never waits behind another's pause for a thread). Sessions are
instagrapi's settings dict, handed back to the caller to store encrypted; nothing here
writes a file or logs a session or a password.
A login that needs a code keeps its Client (and its thread, for e-mail/SMS challenges,
which instagrapi asks for through a synchronous handler) until the code comes from chat.
A two-factor login can also go on in another process: its error carries the client's
settings and the password (`resume`, stored encrypted by the caller), from which a new
client logs in with the code. A challenge waits in its thread: only this process can.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import queue
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from instagrapi import Client
from instagrapi import exceptions as ig

from services.instagram import errors
from services.instagram.comment_pages import CommentRead, coauthors_of, user_pk
from services.instagram.gateway import (
    CURRENT_METER,
    CallMeter,
    CallStopped,
    LoginResult,
    Post,
    PostComments,
    PostInfo,
    Profile,
    Progress,
    Session,
    UserList,
    admit_request,
    meter_request,
)
from services.instagram.names import name_key
from services.instagram.pool import BASE_COOLDOWN, CALL_TIMEOUT, DELAY_RANGE
from services.instagram.share_links import post_url_from_location

log = logging.getLogger(__name__)
T = TypeVar("T")
CODE_WAIT = 300.0  # seconds a login waits for the code the user types in chat
FOLLOW_PAGE = 200
LINGER = 10.0  # seconds beyond the HTTP timeout a given-up call's thread may take to stop
# Requests to Instagram in flight at once: each thread holds one HTTP exchange (a
# fraction of a second), the pauses between requests are on the event loop.
HTTP_THREADS = 32
# Those threads run Python too (instagrapi builds and parses every request). With the
# interpreter's default 5 ms switch interval the event loop, which every database write
# and chat reply of the process needs, waits up to that long for the GIL each time it
# wakes while they are busy; 1 ms hands it back sooner.
SWITCH_INTERVAL = 0.001


def map_error(exc: Exception) -> errors.InstagramError:
    """Every instagrapi exception as one of the product's errors (messages never echo
    what the library put in them: they can quote request data)."""
    if isinstance(exc, errors.InstagramError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, ig.BadPassword | ig.BadCredentials):
        return errors.BadCredentials(name)
    if isinstance(exc, ig.TwoFactorRequired):
        return errors.TwoFactorRequired(name)
    if isinstance(exc, ig.ChallengeError | ig.AccountSuspended):
        return errors.CheckpointRequired(name)
    if isinstance(exc, ig.LoginRequired | ig.ClientUnauthorizedError | ig.ReloginAttemptExceeded
                   | ig.ClientLoginRequired):
        return errors.SessionExpired(name)
    if isinstance(exc, ig.FeedbackRequired | ig.SentryBlock):
        return errors.ActionBlocked(name)
    if isinstance(exc, ig.PleaseWaitFewMinutes | ig.RateLimitError):
        # "Please wait a few minutes before you try again." (with a 429 or a 400; instagrapi
        # reads the body before the status), or a 400 rate_limit_error: a sticky block the
        # pool rests 15 minutes, doubling while it comes back.
        return errors.RateLimited(name, kind=errors.PLEASE_WAIT)
    if isinstance(exc, ig.ClientThrottledError):
        # A bare 429: the pool backs off from a minute, doubling while they go on.
        return errors.RateLimited(name, retry_after=BASE_COOLDOWN, kind=errors.THROTTLE)
    if isinstance(exc, ig.PrivateAccount):
        return errors.PrivateProfile(name)
    if isinstance(exc, ig.NotFoundError | ig.ClientNotFoundError | ig.MediaUnavailable
                  | ig.CommentUnavailable):
        return errors.NotFound(name)
    if isinstance(exc, AssertionError):  # media_comment without a session
        return errors.SessionExpired(name)
    return errors.NetworkError(name)


@dataclass
class PendingLogin:
    """A login waiting for a code: the same Client, and its thread when it is blocked in
    instagrapi's challenge handler."""

    client: Client
    password: str = field(repr=False)
    codes: queue.Queue[str] = field(default_factory=queue.Queue)
    asked: asyncio.Event = field(default_factory=asyncio.Event)
    thread_result: asyncio.Future[Any] | None = None
    started: float = field(default_factory=time.monotonic)


def _no_library_resends(client: Client) -> None:
    """instagrapi sends a request again by itself after a timeout (sleeping 60 s in the
    thread first) or a cut-short answer: such a request would leave without the pool
    admitting and counting it. Those two become a NetworkError instead (the pool rests
    the helper a moment; a resumable read goes on from that request, admitted again)."""
    send = client._send_private_request

    def once(endpoint: str, **kwargs: Any) -> Any:
        try:
            return send(endpoint, **kwargs)
        except (ig.ClientRequestTimeout, ig.ClientIncompleteReadError) as exc:
            raise errors.NetworkError(type(exc).__name__) from exc

    client._send_private_request = once  # type: ignore[method-assign]


def _device_of(resume: Session) -> str | None:
    """The device id (instagrapi's uuid) of the client a two-factor `resume` describes."""
    return ((resume.get("settings") or {}).get("uuids") or {}).get("uuid")


class InstagrapiGateway:
    def __init__(
        self,
        *,
        transport: str = "curl",
        request_timeout: float = 1.0,
        delay_range: tuple[float, float] | None = DELAY_RANGE,
        http_timeout: tuple[float, float] = (10.0, 30.0),
        call_timeout: float = CALL_TIMEOUT,
        proxy: str | None = None,
        http_threads: int = HTTP_THREADS,
    ) -> None:
        self.transport = transport
        self.request_timeout = request_timeout
        self.delay_range = list(delay_range) if delay_range else None
        self.http_timeout = http_timeout
        self.call_timeout = call_timeout
        self.proxy = proxy
        self._pending: dict[str, PendingLogin] = {}
        self._threads = ThreadPoolExecutor(max_workers=http_threads,
                                           thread_name_prefix="instagram")
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        # A request waits for a thread here, not in the pool's queue: its timeout
        # starts when it is sent.
        self._slots = asyncio.Semaphore(http_threads)
        self._clients: dict[str, Client] = {}

    # --- clients ---------------------------------------------------------------------

    def new_client(self, settings: Session | None = None, *, library_pacing: bool = False
                   ) -> Client:
        """A server-safe client: no interactive challenge flow, an HTTP timeout on
        private requests (instagrapi sets none), and no pacing sleeps of its own (the
        gateway pauses on the event loop) unless `library_pacing`: a login, whose several
        requests instagrapi sends in one call, keeps them."""
        pause = self.request_timeout if library_pacing else 0
        if settings is not None:  # a stored session must not bring its own pacing/transport
            # (nor its own retries: instagrapi stores session_retry_total in the settings)
            settings = {**settings, "private_transport": self.transport,
                        "request_timeout": pause, "session_retry_total": 0}
        client = Client(settings=settings, proxy=self.proxy,
                        delay_range=self.delay_range if library_pacing else None,
                        with_challenge_flow=False, request_timeout=pause,
                        private_transport=self.transport,
                        # No retries of 429/5xx by the transport: a retry would leave
                        # without the pool admitting and counting it; the pool backs off.
                        session_retry_total=0)
        client.private.request = functools.partial(client.private.request,
                                                   timeout=self.http_timeout)
        # No netrc or proxy from the environment: requests would stat ~/.netrc on every
        # call (a 1,000-member week makes 200,000); the proxy is INSTAGRAM_PROXY.
        if hasattr(client.private, "trust_env"):
            client.private.trust_env = False
        return client

    def _client(self, session: Session) -> Client:
        """One client per account, so its device identity and cookies stay stable."""
        key = str((session.get("authorization_data") or {}).get("ds_user_id", id(session)))
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self.new_client(session)
            _no_library_resends(client)
        return client

    def _pause(self) -> float:
        """Seconds to wait before a request: instagrapi's pacing, taken over."""
        spread = random.uniform(*self.delay_range) if self.delay_range else 0.0
        return self.request_timeout + spread

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        """One request (`func` sends one), after its pause and the helper pool's
        admission (on the event loop: it may wait for the helper's pace, or refuse with
        HelperSpent or AllowanceSpent, and then nothing is sent): only the HTTP in one of
        the gateway's threads, with its own meter and a real timeout, the library's
        errors mapped; given up (timeout, cancelled), a request the thread has not sent
        yet is refused instead of reaching Instagram."""
        await asyncio.sleep(self._pause())
        try:
            await admit_request()
        except CallStopped as exc:
            raise errors.NetworkError("the call was given up") from exc
        async with self._slots:
            meter = CallMeter(parent=CURRENT_METER.get())
            token = CURRENT_METER.set(meter)  # the thread runs in a copy of this context
            call = functools.partial(contextvars.copy_context().run, func, *args)
            thread = asyncio.get_running_loop().run_in_executor(self._threads, call)
            try:
                return await asyncio.wait_for(asyncio.shield(thread), self.call_timeout)
            except TimeoutError as exc:
                # The thread stops at its next request: wait for that (the helper is
                # still busy meanwhile), so a read resumed next never runs beside this one.
                meter.stop()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(thread, self.http_timeout[1] + LINGER)
                raise errors.NetworkError("Instagram did not answer in time") from exc
            except CallStopped as exc:
                raise errors.NetworkError("the call was given up") from exc
            except Exception as exc:  # the library's exceptions, mapped
                raise map_error(exc) from exc
            finally:
                meter.stop()
                CURRENT_METER.reset(token)

    @staticmethod
    def _request(client: Client, path: str, params: dict[str, str] | None = None
                 ) -> dict[str, Any]:
        """One private API request, counted (and refused once its call was given up)."""
        meter_request()
        return client.private_request(path, params=params)

    @staticmethod
    def _library_call(func: Callable[..., T], *args: Any) -> T:
        """A library method that sends one request of its own."""
        meter_request()
        return func(*args)

    # --- logins ----------------------------------------------------------------------

    async def login(self, username: str, password: str) -> LoginResult:
        username = name_key(username)
        client = self.new_client(library_pacing=True)
        pending = PendingLogin(client, password)
        loop = asyncio.get_running_loop()

        def ask_code(_username: str, _choice: Any) -> str:
            loop.call_soon_threadsafe(pending.asked.set)
            try:
                return pending.codes.get(timeout=CODE_WAIT)
            except queue.Empty:
                return ""

        client.challenge_code_handler = ask_code
        self._pending[username] = pending
        pending.thread_result = asyncio.ensure_future(
            asyncio.to_thread(client.login, username, password))
        asked = asyncio.ensure_future(pending.asked.wait())
        done, _ = await asyncio.wait({pending.thread_result, asked},
                                     timeout=self.call_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        if pending.thread_result in done:
            asked.cancel()
            return self._finish(username, pending)
        asked.cancel()
        if pending.asked.is_set():
            raise errors.CheckpointRequired("a code was sent by e-mail or SMS", needs_code=True)
        self._pending.pop(username, None)
        raise errors.NetworkError("Instagram did not answer in time")

    def _finish(self, username: str, pending: PendingLogin) -> LoginResult:
        if pending.thread_result is None:  # no login under way: nothing to finish
            raise errors.NetworkError("the login was not started, start again")
        try:
            pending.thread_result.result()
        except ig.TwoFactorRequired as exc:  # keep the same Client for the code
            pending.thread_result = None
            # Another process goes on with a client made from these settings (the same
            # device and cookies) and the password: the caller stores them encrypted.
            resume = {"settings": pending.client.get_settings(), "password": pending.password}
            raise errors.TwoFactorRequired("two_factor_required", resume=resume) from exc
        except Exception as exc:
            self._pending.pop(username, None)
            raise map_error(exc) from exc
        self._pending.pop(username, None)
        pk = getattr(pending.client, "user_id", None)
        return LoginResult(username, pending.client.get_settings(),
                           str(pk) if pk is not None else None)

    async def submit_code(self, username: str, code: str,
                          resume: Session | None = None) -> LoginResult:
        """The code for the login waiting here (the same Client, or the challenge
        handler's thread); else, for a two-factor login another process started, a
        client made from its `resume` (settings and password) logs in with the code."""
        username = name_key(username)
        pending = self._pending.get(username)
        if resume and resume.get("settings") and resume.get("password") and (
                pending is None or (pending.thread_result is None
                                    and pending.client.uuid != _device_of(resume))):
            # Not this process's login (or an older one of the same account): go on with
            # the device and cookies the login that asked for this code had.
            client = self.new_client(dict(resume["settings"]), library_pacing=True)
            pending = self._pending[username] = PendingLogin(client, str(resume["password"]))
        if pending is None:
            raise errors.LoginLost("no login is waiting for a code here")
        code = "".join(code.split())
        if pending.thread_result is not None:  # a challenge handler is waiting in its thread
            pending.codes.put(code)
        else:  # two-factor: the same Client logs in again with the code
            pending.thread_result = asyncio.ensure_future(asyncio.to_thread(
                pending.client.login, username, pending.password, False, code))
        try:
            await asyncio.wait_for(asyncio.shield(pending.thread_result), self.call_timeout)
        except TimeoutError as exc:
            raise errors.NetworkError("Instagram did not answer in time") from exc
        except Exception:
            pass  # read in _finish
        try:
            return self._finish(username, pending)
        except (errors.TwoFactorRequired, errors.BadCredentials) as exc:
            raise errors.BadCode("the code was not accepted") from exc

    def discard(self, session: Session) -> None:
        """Forget a session's client (the unfollow check keeps nothing of a login)."""
        key = str((session.get("authorization_data") or {}).get("ds_user_id", id(session)))
        self._clients.pop(key, None)

    async def restore(self, session: Session) -> str:
        client = self._client(session)
        info = await self._call(self._library_call, client.account_info)
        return name_key(str(info.username))

    # --- reads -----------------------------------------------------------------------

    async def _post_comments(self, client: Client, shortcode: str, read: CommentRead
                             ) -> PostComments:
        """The post's info (author, count, comment state), then every page of comments
        in every direction, then the replies Instagram did not preview; from where an
        earlier attempt of `read` stopped. Each answer is taken on the event loop once
        its request came back (a page is twenty comments), so an attempt given up in
        the middle of a request never adds to `read` after the next one started."""
        pk = client.media_pk_from_code(shortcode)
        while (step := read.next_request()) is not None:
            body = await self._call(self._request, client, step.path(pk), step.params or None)
            try:
                read.take(step, body)
            except Exception as exc:  # an answer of an unexpected shape
                raise map_error(exc) from exc
        return read.result()

    async def _media_info(self, client: Client, pk: str) -> dict[str, Any]:
        result = await self._call(self._request, client, f"media/{pk}/info/")
        items = result.get("items") or []
        if not items:
            raise errors.NotFound("Media not found or unavailable")
        return dict(items[0])

    async def post_info(self, session: Session, shortcode: str) -> PostInfo:
        client = self._client(session)
        info = await self._media_info(client, client.media_pk_from_code(shortcode))
        count = info.get("comment_count")
        user = info.get("user") or {}
        return PostInfo(shortcode, name_key(str(user.get("username", ""))),
                        None if count is None else int(count),
                        bool(info.get("comments_disabled")), user_pk(user), coauthors_of(info))

    async def profile(self, session: Session, username: str) -> Profile:
        """One request (`users/{name}/usernameinfo/`, as instagrapi's v1 lookup), read
        as plain JSON: only the pk and the current name are needed."""
        client = self._client(session)
        body = await self._call(self._request, client, f"users/{name_key(username)}/usernameinfo/")
        user = body.get("user") or {}
        pk = user_pk(user)
        if pk is None or not user.get("username"):
            raise errors.NotFound("User not found")
        return Profile(pk, name_key(str(user["username"])))

    def _resolve_share(self, client: Client, url: str) -> str | None:
        meter_request()
        response = client.public.get(url, proxies=client.public.proxies, allow_redirects=False,
                                     timeout=self.http_timeout)
        return post_url_from_location(response.headers.get("Location") or "")

    async def resolve_share(self, session: Session, url: str) -> str | None:
        return await self._call(self._resolve_share, self._client(session), url)

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        return await self._post_comments(self._client(session), shortcode,
                                         resume or CommentRead())

    async def _user(self, client: Client, username: str) -> Any:
        """A profile, refused when it is private (and not the helper's own)."""
        user = await self._call(self._library_call, client.user_info_by_username_v1, username)
        if user.is_private and str(user.pk) != str(client.user_id):
            raise errors.PrivateProfile("private profile")
        return user

    async def _follow_list(self, client: Client, username: str, which: str,
                           progress: Progress | None) -> UserList:
        user = await self._user(client, username)
        reported = int(user.follower_count if which == "followers" else user.following_count)
        names: set[str] = set()
        max_id = ""
        while True:
            params = {"count": FOLLOW_PAGE, "search_surface": "follow_list_page"}
            if max_id:
                params["max_id"] = max_id
            result = await self._call(self._request, client, f"friendships/{user.pk}/{which}/",
                                      params)
            names.update(name_key(str(u["username"])) for u in result.get("users", []))
            if progress is not None:
                progress(len(names), reported)
            max_id = result.get("next_max_id") or ""
            if not max_id:
                break
        return UserList(frozenset(names), len(names), reported)

    async def followers(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList:
        return await self._follow_list(self._client(session), username, "followers", progress)

    async def followees(self, session: Session, username: str,
                        progress: Progress | None = None) -> UserList:
        return await self._follow_list(self._client(session), username, "following", progress)

    async def _recent_posts(self, client: Client, username: str, amount: int) -> list[Post]:
        user = await self._user(client, username)
        result = await self._call(self._request, client, f"feed/user/{user.pk}/",
                                  {"count": str(amount)})
        posts = [
            Post(str(item["code"]),
                 datetime.fromtimestamp(int(item.get("taken_at") or 0), UTC),
                 str((item.get("caption") or {}).get("text") or ""),
                 int(item.get("comment_count") or 0),
                 bool(item.get("comments_disabled") or item.get("commenting_disabled_for_viewer")))
            for item in result.get("items", [])
        ]
        return sorted(posts, key=lambda p: p.taken_at, reverse=True)[:amount]

    async def recent_posts(self, session: Session, username: str, amount: int = 6
                           ) -> list[Post]:
        return await self._recent_posts(self._client(session), username, amount)

    # --- writes ----------------------------------------------------------------------

    async def comment(self, session: Session, shortcode: str, text: str) -> None:
        client = self._client(session)
        pk = client.media_pk_from_code(shortcode)
        await self._call(self._library_call, client.media_comment, str(pk), text)


__all__ = ["InstagrapiGateway", "map_error"]
