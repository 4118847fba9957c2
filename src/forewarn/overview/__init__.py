"""The overview: the map of every site in scope with its state, the KPI tiles, the newest alarms."""
