"""Automatic comments: consumers, producers, the nightly comments and their words."""
