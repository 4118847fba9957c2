"""Modbus TCP: forewarn polls devices that answer register reads rather than send data.

``decode`` (pure: registers to a value by type, byte order and scale), ``poller`` (one asyncio
task per device, pymodbus's client), ``adapters`` (the platform's pollers, kept in step with the
registry). The register maps live in the store (``store/modbus.py``, migration 0023) and are
imported by ``registry/modbus.py``.
"""
