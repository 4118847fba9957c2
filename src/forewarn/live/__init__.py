"""The live stream: events fanned out to WebSocket and SSE subscribers (``hub``), and what
produces them from the running platform (``feed``)."""
