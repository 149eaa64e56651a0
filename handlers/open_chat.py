"""Admins hand the bot the open chat's export; the report lists every link not used."""

from __future__ import annotations

from handlers.context import Continue, Ctx
from handlers.events import Reply
from handlers.i18n import t
from handlers.registry import Command, Trigger
from services.open_chat.chat_export import LAYOUTS, MAX_UPLOAD, ExportUnreadable
from services.open_chat.importer import (
    ExportDigest,
    ImportReport,
    MailReport,
    import_start,
    read_digest_off_loop,
)
from services.unfollow.instagram_export import looks_like_export

MAX_LISTED = 200  # a report longer than this says how many more there are


def render_report(report: ImportReport, language: str) -> str:
    lines = [
        t(language, "import.header", layout=t(language, f"import.layout.{report.layout}")),
        t(language, "import.counts", messages=report.messages, links=report.links,
          added=report.added, duplicates=report.duplicates, system=report.system_lines),
    ]
    if report.rows_before_lines is not None:
        lines.append(t(language, "import.read_by_lines", rows=report.rows_before_lines,
                       messages=report.messages))
    if report.weeks:
        lines.append(t(language, "import.weeks", weeks=", ".join(report.weeks)))
    if report.links_outside:
        lines.append(t(language, "import.outside_weeks", count=report.links_outside))
    if report.added_by_member:
        added = ", ".join(f"@{name} {count}" for name, count in
                          sorted(report.added_by_member.items()))
        lines.append(t(language, "import.added_by", members=added))
    if report.unused:
        lines += ["", t(language, "import.unused_header", count=len(report.unused))]
        for item in report.unused[:MAX_LISTED]:
            lines.append(t(language, "import.unused_line", line=item.line_no,
                           nickname=item.nickname, link=item.link,
                           reason=t(language, f"import.reason.{item.reason}")))
    if report.not_understood:
        lines += ["", t(language, "import.not_understood_header",
                        count=report.not_understood_count)]
        lines += [t(language, "import.not_understood_line", line=n, text=text[:80])
                  for n, text in report.not_understood[:MAX_LISTED]]
    hidden = max(0, len(report.unused) - MAX_LISTED) + max(
        0, report.not_understood_count - min(MAX_LISTED, len(report.not_understood)))
    if hidden:
        lines.append(t(language, "import.more", count=hidden))
    if not report.unused and not report.not_understood:
        lines.append(t(language, "import.all_used"))
    return "\n".join(lines)


def unreadable(reason: str, first_lines: tuple[str, ...], language: str,
               limit: int | None = None) -> str:
    """Why a file could not be imported (with the limit it went past); for a file with no
    message, the layouts tried and the first lines none of them could read."""
    text = t(language, "import.unreadable",
             problem=t(language, f"import.unreadable.{reason}", limit=limit))
    if reason == "no_messages":
        layouts = ", ".join(t(language, f"import.layout.{name}") for name in LAYOUTS)
        text += "\n" + t(language, "import.layouts_tried", layouts=layouts)
        text += "".join(f"\n  | {line}" for line in first_lines)
    return text


def delivered_report(source: str, name: str, result: ImportReport | ExportUnreadable,
                     language: str) -> str:
    """What the admins are told about a file found in the watched folder (`source`
    "folder") or attached to a mail ("mail", `name` then says the file and the sender)."""
    head = t(language, f"import.from_{source}", name=name)
    if isinstance(result, ExportUnreadable):
        return f"{head}\n{unreadable(result.reason, result.first_lines, language, result.limit)}"
    return f"{head}\n{render_report(result, language)}"


def mail_report(report: MailReport, language: str) -> str:
    """What the admins are told about one mail to the community's mailbox: why it was
    refused, or each attached file with its report (one message per mail)."""
    sender = report.sender or t(language, "import.mail_unknown_sender")
    head = t(language, "import.mail_from", sender=sender)
    if report.refused:
        why = t(language, f"import.mail_refused.{report.refused}",
                limit=MAX_UPLOAD // 2**20)
        return f"{head}\n{why}"
    parts = [head]
    for name, result in report.files:
        parts.append(t(language, "import.mail_file", name=name))
        if isinstance(result, ExportUnreadable):
            parts.append(unreadable(result.reason, result.first_lines, language, result.limit))
        else:
            parts.append(render_report(result, language))
    return "\n".join(parts)


async def import_upload(ctx: Ctx) -> list[Reply]:
    """A file sent to the bot: admins' KakaoTalk exports are imported, others are told."""
    if not ctx.who.is_admin:
        return [ctx.reply("import.admins_only")]
    event = ctx.event
    data, name = event.attachment or b"", event.attachment_name or ""
    if (event.attachment_size or 0) > MAX_UPLOAD:  # too big to be downloaded at all
        return [Reply(unreadable("upload_too_big", (), ctx.lang, MAX_UPLOAD // 2**20))]
    rules = ctx.tx.rules
    since = import_start(ctx.tx.now(), rules, rules.kakao_import_weeks)
    ctx.defer(Continue(read_digest_off_loop, (data, name, rules.timezone, since),
                       then=_export_read, values={"name": name}, catch=(ExportUnreadable,)))
    return [Reply(ctx.t("import.reading"), progress=True)]


async def _export_read(ctx: Ctx, found: ExportDigest | ExportUnreadable, *, name: str
                       ) -> list[Reply]:
    """The export has been read off the event loop: imported now, in the admin's name."""
    if isinstance(found, ExportUnreadable):
        return [Reply(unreadable(found.reason, found.first_lines, ctx.lang, found.limit))]
    report = await ctx.tx.open_chat.run(found, ctx.who.account_id, name)
    return [Reply(render_report(report, ctx.lang))]


async def how_to_import(ctx: Ctx, _args: str) -> list[Reply]:
    """Where to hand in the export: this chat, or where a file cannot be sent to the bot
    (KakaoTalk), the community's mailbox or the bot on Telegram."""
    rules = ctx.tx.rules
    if ctx.event.sends_files:
        return [ctx.reply("import.how", weeks=rules.kakao_import_weeks)]
    if rules.import_mail_address:
        return [ctx.reply("import.how_by_mail", weeks=rules.kakao_import_weeks,
                          address=rules.import_mail_address)]
    return [ctx.reply("import.how_elsewhere", weeks=rules.kakao_import_weeks)]


def is_chat_export(ctx: Ctx, _text: str) -> bool:
    """An admin's file that is not Instagram's export: the open chat's (only admins
    send chat exports, so anyone else's file goes to the unfollow check)."""
    event = ctx.event
    return ctx.who.is_admin and not looks_like_export(event.attachment_name or "",
                                                      event.attachment or b"")


async def uploaded_chat(ctx: Ctx, _text: str) -> list[Reply]:
    return await import_upload(ctx)


TRIGGERS = [Trigger("chat_export", "file", is_chat_export, uploaded_chat)]
COMMANDS = [Command("import", how_to_import, audience="admin", keywords=("대화 가져오기",))]
