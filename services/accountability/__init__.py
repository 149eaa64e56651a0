"""The accountability ladder: strikes, suspensions, pauses, appeals, streaks."""
