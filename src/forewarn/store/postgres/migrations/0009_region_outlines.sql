-- Region outlines for the dashboard's map, which needs no tile server: one GeoJSON geometry
-- (Polygon or MultiPolygon, longitude/latitude in the datum of the sites' coordinates) per
-- GB/T 2260 region code, imported by `forewarn regions import-geojson FILE`. The text is kept
-- as imported (compact JSON) so that serving it costs no parsing.
CREATE TABLE region_outlines (
    region_code TEXT PRIMARY KEY REFERENCES regions(code),
    geometry    TEXT NOT NULL,
    source      TEXT NOT NULL DEFAULT '',
    imported_ms BIGINT NOT NULL
);
-- Bumped by every outline import: the outlines' ETag, so a browser fetches the megabytes once.
INSERT INTO meta (key, value) VALUES ('outlines_version', '0');
