"""Reports: daily, monthly and annual, for a region or an enterprise, as XLSX and printable HTML.

``build`` makes the one :class:`~forewarn.reports.shapes.Report` from the figures
(``forewarn.stats.figures``); ``xlsx`` and ``html`` draw it; ``schedule`` makes them at a set
time into the data directory. The CLI, the API and the dashboard's statistics page call these.
"""
