"""Watched folder: new open-chat exports dropped there are imported, each file once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.container import Services
from services.kakao_export import ExportUnreadable, read_off_loop
from services.open_chat_import import ImportReport

log = logging.getLogger(__name__)
SUFFIXES = {".txt", ".zip"}
ReportSink = Callable[[str, ImportReport | None, str | None], Awaitable[None]]


def _exports_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        log.warning("KAKAO_IMPORT_FOLDER %s is not a folder", folder)
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


async def import_new_files(services: Services, folder: Path, on_report: ReportSink) -> int:
    """Import every export in `folder` not imported before; returns how many were new.

    `on_report(name, report, problem)` gets each new file's report, or the reason the
    file could not be read (the bot sends either to the admins).
    """
    files = await asyncio.to_thread(_exports_in, folder)
    imported = 0
    for path in files:
        data = await asyncio.to_thread(path.read_bytes)
        try:
            async with services.transaction() as tx:
                if await tx.open_chat.was_read(data):
                    continue
            # Read in the upload worker: a big file never stalls the bot.
            parsed = await read_off_loop(data, path.name, services.rules.timezone)
            async with services.transaction() as tx:
                report = await tx.open_chat.import_once(
                    data, parsed, path.name, tx.now(), tx.rules.kakao_import_weeks
                )
        except ExportUnreadable as exc:
            # The failed run was rolled back with the transaction: record it on its own.
            async with services.transaction() as tx:
                await tx.open_chat.remember_unreadable(data, path.name, exc.reason)
            await on_report(path.name, None, exc.reason)
            imported += 1
            continue
        if report is not None:
            log.info("imported %s: %d added, %d not used", path.name, report.added,
                     len(report.unused))
            await on_report(path.name, report, None)
            imported += 1
    return imported
