"""Watched folder: new open-chat exports dropped there are imported, each file once.

A file is known by its content (a SHA-256), or, when it is too big to be read at all, by
its name, size and modification time. Whatever happens to it, imported, unreadable or
failed, is recorded with that key, and the admins are told once: a broken file is never
read again in a loop, and a fixed file (new content, under any name) is imported.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.container import Services
from services.open_chat.chat_export import MAX_UPLOAD, ExportUnreadable
from services.open_chat.importer import ImportReport, import_start, read_digest_off_loop

log = logging.getLogger(__name__)
SUFFIXES = {".txt", ".zip", ".csv"}
ReportSink = Callable[[str, ImportReport | ExportUnreadable], Awaitable[None]]


def _exports_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        log.warning("KAKAO_IMPORT_FOLDER %s is not a folder", folder)
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def import_export(services: Services, key: str, name: str, data: bytes,
                        on_report: ReportSink) -> bool:
    """Import one delivered file (the folder, a mail) unless `key` was seen before; the
    report, or why it could not be read, goes to `on_report` once. True when it was new."""
    async with services.transaction() as tx:
        if await tx.open_chat.was_read(key):
            return False
        since = import_start(tx.now(), tx.rules, tx.rules.kakao_import_weeks)
    try:
        # Read in the upload worker: a big file never stalls the bot.
        found = await read_digest_off_loop(data, name, services.rules.timezone, since)
        async with services.transaction() as tx:
            report = await tx.open_chat.import_once(key, found, name)
    except ExportUnreadable as problem:
        await _failed(services, key, name, problem.reason)
        await on_report(name, problem)
        return True
    except Exception as exc:
        # Not the file's fault as far as we know; still recorded, so it is not retried in
        # a loop (the admins are told to hand it in directly once the fault is fixed).
        log.exception("importing %s failed", name)
        services.faults.report("export import", exc)
        await _failed(services, key, name, "internal")
        await on_report(name, ExportUnreadable("internal"))
        return True
    if report is None:
        return False  # another instance took it meanwhile
    log.info("imported %s: %d added, %d not used", name, report.added, len(report.unused))
    await on_report(name, report)
    return True


async def _failed(services: Services, key: str, name: str, reason: str) -> None:
    # The failed run was rolled back with the transaction: record it on its own.
    async with services.transaction() as tx:
        await tx.open_chat.remember_failure(key, name, reason)


async def import_new_files(services: Services, folder: Path, on_report: ReportSink) -> int:
    """Import every export in `folder` not seen before; returns how many were new."""
    files = await asyncio.to_thread(_exports_in, folder)
    new = 0
    for path in files:
        stat = await asyncio.to_thread(path.stat)
        if stat.st_size > MAX_UPLOAD:  # never read whole: known by name, size and time
            key = content_key(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
            async with services.transaction() as tx:
                if await tx.open_chat.was_read(key):
                    continue
            await _failed(services, key, path.name, "upload_too_big")
            await on_report(path.name, ExportUnreadable("upload_too_big",
                                                        limit=MAX_UPLOAD // 2**20))
            new += 1
            continue
        data = await asyncio.to_thread(path.read_bytes)
        if await import_export(services, content_key(data), path.name, data, on_report):
            new += 1
    return new
