"""Alarms: their lifecycle from firing to closed, their evidence, and the notices they send."""
