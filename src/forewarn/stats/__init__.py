"""Statistics regulators report: forewarn's own minute/hour/day/month values (``aggregate``),
their periods (``periods``), raw-data retention (``retention``), audit marks, figures and
reports (other modules of this package)."""
