"""The `autogram` command as a test runs it."""

from __future__ import annotations

import sys
from pathlib import Path

AUTOGRAM = [sys.executable, "-m", "bot.cli"]


ROOT = Path(__file__).resolve().parent.parent

