"""The unfollow check: Instagram's data export read locally and the answer made from it."""
