"""instaloader as a second reader of post commenters (used when instagrapi fails on a post).

instaloader is read-only and its follow lists now come back empty, so it serves only
commenters. It runs in a worker thread, never sleeps to pace itself (a rate limit comes
back at once as RateLimited, and the helper pool cools the helper down), and takes its
session as a cookie dict made from the helper's stored instagrapi session.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import instaloader
from instaloader import exceptions as il

from services.instagram import errors
from services.instagram.comment_pages import CommentRead
from services.instagram.gateway import (
    CURRENT_METER,
    CallMeter,
    CallStopped,
    PostComments,
    Session,
    meter_request,
)
from services.instagram.names import name_key
from services.instagram.pool import CALL_TIMEOUT


class _NoWaiting(instaloader.RateController):
    """instaloader would sleep up to half an hour on its own limits; the pool decides."""

    def sleep(self, secs: float) -> None:
        raise errors.RateLimited("instaloader's own rate window is full", retry_after=secs)


def map_error(exc: Exception) -> errors.InstagramError:
    if isinstance(exc, errors.InstagramError):
        return exc
    text = str(exc).lower()
    name = type(exc).__name__
    if isinstance(exc, il.AbortDownloadException):
        if "feedback_required" in text:
            return errors.ActionBlocked(name)
        if "logged out" in text:
            return errors.SessionExpired(name)
        if "429" in text:
            return errors.RateLimited(name)
        return errors.CheckpointRequired(name)
    if isinstance(exc, il.LoginRequiredException):
        return errors.SessionExpired(name)
    if isinstance(exc, il.PrivateProfileNotFollowedException):
        return errors.PrivateProfile(name)
    if isinstance(exc, il.BadResponseException | il.QueryReturnedNotFoundException
                  | il.ProfileNotExistsException):
        return errors.NotFound(name)
    if isinstance(exc, il.ConnectionException) and ("429" in text or "please wait" in text):
        return errors.RateLimited(name)
    if isinstance(exc, il.LoginException) and "checkpoint" in text:
        return errors.CheckpointRequired(name)
    return errors.NetworkError(name)


def cookies_from(session: Session) -> dict[str, str]:
    """instaloader's cookie dict from an instagrapi settings blob (it needs a csrftoken)."""
    cookies = dict(session.get("cookies") or {})
    auth = session.get("authorization_data") or {}
    cookies.setdefault("sessionid", str(auth.get("sessionid", "")))
    cookies.setdefault("ds_user_id", str(auth.get("ds_user_id", "")))
    cookies.setdefault("csrftoken", str(session.get("csrftoken") or "missing"))
    return {k: str(v) for k, v in cookies.items()}


class InstaloaderCommentReader:
    def __init__(self, *, request_timeout: float = 30.0, call_timeout: float = CALL_TIMEOUT
                 ) -> None:
        self.request_timeout = request_timeout
        self.call_timeout = call_timeout

    def _loader(self, session: Session) -> instaloader.Instaloader:
        loader = instaloader.Instaloader(
            sleep=False, quiet=True, max_connection_attempts=1,
            request_timeout=self.request_timeout, fatal_status_codes=[429],
            download_comments=False, save_metadata=False,
            rate_controller=lambda context: _NoWaiting(context),
        )
        username = str(session.get("username") or
                       (session.get("authorization_data") or {}).get("ds_user_id", "helper"))
        loader.load_session(username, cookies_from(session))
        # Every request it sends is counted (and refused once the call was given up).
        # (every query instaloader makes goes through get_json, one request each).
        original = loader.context.get_json

        def counted(*args: Any, **kwargs: Any) -> Any:
            meter_request()
            return original(*args, **kwargs)

        loader.context.get_json = counted  # type: ignore[method-assign]
        return loader

    def _commenters(self, session: Session, shortcode: str) -> PostComments:
        loader = self._loader(session)
        post = instaloader.Post.from_shortcode(loader.context, shortcode)
        names: set[str] = set()
        ids: set[int] = set()
        pks: dict[str, str] = {}
        times: dict[str, datetime | None] = {}

        def add(item: Any) -> None:
            name = name_key(item.owner.username)
            names.add(name)
            ids.add(item.id)
            pks[str(item.owner.userid)] = name
            at = item.created_at_utc.replace(tzinfo=UTC) if item.created_at_utc else None
            if name not in times or (at is not None and times[name] is not None
                                     and at < times[name]):  # type: ignore[operator]
                times[name] = at

        for comment in post.get_comments():
            add(comment)
            for answer in comment.answers:
                add(answer)
        return PostComments(name_key(post.owner_username), frozenset(names), len(ids),
                            int(post.comments), author_pk=str(post.owner_id), pks=pks,
                            times=times)

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        """Always a whole read: instaloader's iterator cannot go on from another's page."""
        meter = CallMeter(parent=CURRENT_METER.get())
        token = CURRENT_METER.set(meter)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._commenters, session, shortcode), self.call_timeout)
        except TimeoutError as exc:
            raise errors.NetworkError("Instagram did not answer in time") from exc
        except CallStopped as exc:
            raise errors.NetworkError("the call was given up") from exc
        except Exception as exc:
            raise map_error(exc) from exc
        finally:
            meter.stop()
            CURRENT_METER.reset(token)


class CombinedGateway:
    """instagrapi for everything; instaloader reads a post's commenters when instagrapi
    fails on that post in a way that is not the helper's fault (a "fail" answer, a
    network error). Rate limits, checkpoints and lost sessions go to the pool as they are."""

    def __init__(self, primary: Any, second_reader: InstaloaderCommentReader) -> None:
        self.primary = primary
        self.second_reader = second_reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)

    async def commenters(self, session: Session, shortcode: str,
                         resume: CommentRead | None = None) -> PostComments:
        try:
            return await self.primary.commenters(session, shortcode, resume)
        except errors.NetworkError:
            return await self.second_reader.commenters(session, shortcode)
