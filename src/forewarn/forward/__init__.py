"""Forwarding upward: the targets (`config`), outbox rows to frames (`encode`), one sender per
target (`sender`), the platform's service (`service`)."""
