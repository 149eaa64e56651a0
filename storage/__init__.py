"""Storage: SQLAlchemy 2 async models, the engine and its sessions, the encrypted column
types and key rotation. Queries live in the services that ask them (docs/decisions.md,
"Structure").

Nothing here imports the layers above; settings arrive as plain arguments.
"""
