"""forewarn: online monitoring and early warning for regulators."""

__version__ = "0.1.0"
