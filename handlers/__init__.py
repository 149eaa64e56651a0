"""The conversations and commands, written once, platform-neutral (no telegram, no aiohttp)."""
