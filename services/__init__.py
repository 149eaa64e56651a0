"""Business rules. Services never import handlers or bot; they work on storage."""
