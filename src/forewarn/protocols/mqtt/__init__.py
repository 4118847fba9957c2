"""MQTT: forewarn's own port for devices and gateways, and a subscriber of a broker (see each module)."""
