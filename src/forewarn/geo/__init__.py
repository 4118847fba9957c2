"""Geography for the map: region outlines (GeoJSON keyed by GB/T 2260 code) and the demo's."""
