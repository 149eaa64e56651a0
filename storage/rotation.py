"""`autogram rotate-keys`: re-encrypt every stored secret with the newest key."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import crypto

# Every encrypted column in the schema; a test keeps this in step with the models.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "helper": ("password", "session"),
    "producer": ("password", "session"),
    "telegram_update": ("body",),
}
KEY_COLUMNS = {"telegram_update": "update_id"}  # the others' key is "id"


async def rotate_all(engine: AsyncEngine) -> int:
    """Rotate the raw Fernet tokens in one transaction; returns how many values changed."""
    rotated = 0
    async with engine.begin() as conn:
        for table, columns in ENCRYPTED_COLUMNS.items():
            key = KEY_COLUMNS.get(table, "id")
            for column in columns:
                rows = await conn.execute(
                    text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
                )
                for row_id, token in rows.all():
                    await conn.execute(
                        text(f"UPDATE {table} SET {column} = :value WHERE {key} = :id"),
                        {"value": crypto.rotate(token), "id": row_id},
                    )
                    rotated += 1
    return rotated
