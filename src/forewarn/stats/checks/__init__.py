"""The screening's checks, one module per kind of doubtful data, registered in :mod:`.registry`."""
