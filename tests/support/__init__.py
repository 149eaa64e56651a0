"""What tests share: people in chat, the transports' harnesses, worlds.

Test modules import helpers from here (or use conftest fixtures), never from
one another."""
