"""The `autogram` command: run, chat, migrate, keygen, rotate-keys, admin add."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import sys
from collections.abc import Callable

from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure
from storage import crypto


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(str(exc))
    crypto.configure_keys(settings.keys)
    return settings


def _database_ready(settings: Settings, *, migrated: bool = True) -> None:
    """A SQLite database in a folder that does not exist, or (for the commands that need
    the tables) not made yet: one line naming the fix, and no empty file left behind."""
    from storage.db import sqlite_file

    path = sqlite_file(settings.database_url)
    if path is None:
        return
    if not path.parent.is_dir():
        sys.exit(f"The folder of the SQLite database does not exist: {path.parent}. "
                 "Create it, or point DATABASE_URL elsewhere.")
    if migrated and not path.exists():
        sys.exit(f"There is no database at {path} yet: run `autogram migrate` first.")


def weeks(text: str) -> int:
    """--weeks: a whole number of weeks, 1 to 520."""
    from handlers.arguments import whole_number

    value = whole_number(text, 1, 520)
    if value is None:
        raise argparse.ArgumentTypeError("a whole number of weeks from 1 to 520")
    return value


def cmd_keygen(_: argparse.Namespace) -> None:
    print(crypto.new_key())


def cmd_migrate(_: argparse.Namespace) -> None:
    from storage.migrations import upgrade

    settings = _settings()
    _database_ready(settings, migrated=False)
    upgrade(settings.database_url)
    print("The database is up to date.")


def cmd_rotate_keys(_: argparse.Namespace) -> None:
    from storage.db import create_engine
    from storage.rotation import rotate_all

    settings = _settings()
    if not settings.keys:
        sys.exit("ENCRYPTION_KEYS is empty: put the new key first, then the old ones.")
    _database_ready(settings)

    async def rotate() -> int:
        engine = create_engine(settings.database_url)
        try:
            return await rotate_all(engine)
        finally:
            await engine.dispose()

    try:
        count = asyncio.run(rotate())
    except crypto.SecretUnreadable as exc:
        sys.exit(f"Nothing was changed: {exc}")
    print(
        f"Re-encrypted {count} stored secrets with the newest key. "
        "Older keys can now be removed from ENCRYPTION_KEYS.\n"
        "A bot that is running picks the new keys up by itself the first time it needs "
        "them; to make it read them now, send it SIGHUP (kill -HUP <pid of autogram run>)."
    )


def cmd_admin_add(args: argparse.Namespace) -> None:
    from bot.wiring import open_services
    from services.members.admin_claim import CLAIM_VALID_HOURS

    settings = _settings()
    _database_ready(settings)

    async def add() -> str:
        async with open_services(settings) as services, services.transaction() as tx:
            return await tx.admins.create_claim(args.name)

    code = asyncio.run(add())
    print(
        f"Admin {args.name!r} created. Send this to the bot from the admin's own chat "
        f"within {CLAIM_VALID_HOURS} hours (it works once):\n\n    /claim {code}\n"
    )


def cmd_import_kakao(args: argparse.Namespace) -> None:
    from pathlib import Path

    from bot.wiring import open_services
    from handlers.open_chat import render_report, unreadable
    from services.open_chat.chat_export import ExportUnreadable

    settings = _settings()
    _database_ready(settings)
    path = Path(args.file)
    if path.is_dir():
        sys.exit(f"{path} is a folder: give the export file itself (.txt or .zip).")
    if not path.is_file():
        sys.exit(f"No such file: {path}")

    data = path.read_bytes()

    async def run_import() -> str:
        async with open_services(settings) as services, services.transaction() as tx:
            report = await tx.open_chat.import_file(data, path.name, tx.now(), args.weeks)
        return render_report(report, args.lang)

    try:
        print(asyncio.run(run_import()))
    except ExportUnreadable as exc:
        sys.exit(unreadable(exc.reason, exc.first_lines, args.lang, exc.limit))


def cmd_run(_: argparse.Namespace) -> None:
    from bot.app import run

    settings = _settings()
    _database_ready(settings)
    configure(logging.getLevelName(settings.log_level), settings.log_format)
    asyncio.run(run(settings))


def cmd_chat(args: argparse.Namespace) -> None:
    settings = _settings()
    if args.demo:
        from bot.demo import demo, prepare

        demo_settings, fresh = prepare(settings, args.as_name)
        asyncio.run(demo(demo_settings, args.as_name, fresh))
        return
    from bot.console import chat

    _database_ready(settings)
    asyncio.run(chat(settings, name=args.as_name or "console"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="autogram", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve everything configured").set_defaults(func=cmd_run)
    chat = sub.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--as", dest="as_name", default=None, help="who you are in the chat")
    chat.add_argument("--demo", action="store_true",
                      help="a throw-away demo community on a simulated Instagram")
    chat.set_defaults(func=cmd_chat)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("keygen", help="print a new encryption key").set_defaults(func=cmd_keygen)
    sub.add_parser(
        "rotate-keys", help="re-encrypt stored secrets with the newest key"
    ).set_defaults(func=cmd_rotate_keys)
    kakao = sub.add_parser("import-kakao", help="import a KakaoTalk open-chat export (.txt/.zip)")
    kakao.add_argument("file", help="the exported chat: a .txt file, or the .zip as mailed")
    kakao.add_argument("--weeks", type=weeks, default=None,
                       help="only the last N weeks, this one included (default: every week)")
    kakao.add_argument("--lang", choices=("ko", "en"), default="ko", help="language of the report")
    kakao.set_defaults(func=cmd_import_kakao)
    admin = sub.add_parser("admin", help="manage admins")
    admin_sub = admin.add_subparsers(dest="admin_command", required=True)
    add = admin_sub.add_parser("add", help="create an admin and print a one-time claim code")
    add.add_argument("name", help="the admin's name, as /admins and the audit show it")
    add.set_defaults(func=cmd_admin_add)
    return parser


def _guarded(func: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """Known start-up problems end with their message, not a traceback."""
    from asyncpg import PostgresError
    from sqlalchemy.exc import DBAPIError

    from storage.migrations import DatabaseBehind

    try:
        func(args)
    except BrokenPipeError:  # the reader went away (`autogram chat --demo | head -3`)
        # Quietly, as `cat` does: nothing more can be written there, nor should be.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except DatabaseBehind as exc:
        sys.exit(str(exc))
    except crypto.SecretUnreadable as exc:
        sys.exit(str(exc))
    except OSError as exc:  # the web port is taken, the database folder is missing, ...
        sys.exit(f"Cannot start: {exc}")
    except (DBAPIError, PostgresError) as exc:  # no such database, not migrated, ...
        orig = getattr(exc, "orig", None) or exc
        reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        reason = re.sub(r"^<class '[\w.]+'>: ", "", reason)
        sys.exit(f"Cannot use the database: {reason}. Check DATABASE_URL (and that the "
                 "database exists and is migrated: `autogram migrate`).")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # The console chat prints the conversation; only problems are logged there.
    level = logging.WARNING if args.command == "chat" else logging.INFO
    configure(level)
    if args.command != "migrate":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    _guarded(args.func, args)


if __name__ == "__main__":
    main()
