"""Fixtures shared by the integration tests."""

from tests.integration.api import fleet

__all__ = ["fleet"]
