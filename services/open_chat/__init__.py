"""The KakaoTalk open chat: its exported text in every layout and the import of its links."""
