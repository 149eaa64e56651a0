"""Async repositories: one small class per area, each over an `AsyncSession`.

They flush but never commit: the caller (a service) owns the transaction.
"""
