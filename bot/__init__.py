"""Transports and wiring: Telegram, the KakaoTalk skill server, the console chat, config, CLI."""
