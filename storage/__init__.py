"""Storage: SQLAlchemy 2 async models, repositories, engine/session and secrets at rest.

Nothing here imports the layers above; settings arrive as plain arguments.
"""
