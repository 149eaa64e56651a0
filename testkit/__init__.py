"""What tests and benchmarks both stand on: the local Telegram Bot API
emulator and builders of KakaoTalk and Instagram exports. Benchmarks never
import tests."""
