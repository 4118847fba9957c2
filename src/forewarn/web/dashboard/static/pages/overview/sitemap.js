// The overview's map: region outlines (no tile server needed), sites as markers coloured by
// state, clustered with supercluster when dense. Shared by the overview and the control-room
// screen. Leaflet (window.L) and Supercluster are globals from /static/vendor/.
//
// Built to stay up for days: the outline layer is drawn once, the marker layer is one layer
// group that is cleared and refilled on every update (no layers pile up), and destroy()
// removes the map with everything on it.

/* global L, Supercluster */

/** State -> colour (the same palette as style.css's badges). */
export const STATE_COLOURS = {
  alarm1: '#e6a700', alarm2: '#d92d20', offline: '#8a94a6', maintenance: '#7a5af8',
  stopped: '#475467', normal: '#2e9d4d',
};
/** How bad a state is, for a cluster's colour (its worst site). */
const RANK = {normal: 0, maintenance: 1, stopped: 2, offline: 3, alarm1: 4, alarm2: 5};
const BY_RANK = Object.keys(RANK).sort((a, b) => RANK[a] - RANK[b]);
/** Drawn one by one below this many sites; clustered above it. */
const CLUSTER_ABOVE = 400;

/** The colour key of a site: alarm by level (level 2 and up share the level-2 colour). */
export function stateKey(site) {
  if (site.state === 'alarm') return (site.alarm_level || 1) >= 2 ? 'alarm2' : 'alarm1';
  return site.state;
}

export class SiteMap {
  /**
   * @param {HTMLElement} el the map's container
   * @param {{tileUrl: string|null, onSite: (id: number) => void, label: (site) => HTMLElement, dark?: boolean}} opts
   *   `label` builds the marker's tooltip as an element (never a string: Leaflet would parse it as HTML)
   */
  constructor(el, opts) {
    this.opts = opts;
    this.map = L.map(el, {preferCanvas: true, attributionControl: false, zoomSnap: 0.25, worldCopyJump: false});
    this.map.setView([30, 110], 5);
    if (opts.tileUrl) L.tileLayer(opts.tileUrl, {maxZoom: 18}).addTo(this.map);
    this.renderer = L.canvas({padding: 0.3});
    this.outlines = null;
    this.markers = L.layerGroup().addTo(this.map);
    this.index = null;
    this.sites = [];
    this.fitted = false;
    this.areas = [];
    this.areaControl = null;
    this.onMove = () => this.draw();
    this.map.on('moveend', this.onMove);
  }

  /** Draw the region outlines (a GeoJSON FeatureCollection), once. */
  setOutlines(collection) {
    if (this.outlines) this.outlines.remove();
    if (!collection || !collection.features || !collection.features.length) { this.outlines = null; return; }
    const dark = Boolean(this.opts.dark);
    this.outlines = L.geoJSON(collection, {
      interactive: true,
      style: () => ({color: dark ? '#5f86c0' : '#5b7bb2', weight: 1.2, fillColor: dark ? '#1a3050' : '#ffffff',
        fillOpacity: dark ? 0.95 : 0.95}),
      onEachFeature: (feature, layer) => {
        const name = document.createElement('span'); // an element, not a string: Leaflet would parse a string as HTML
        name.textContent = (feature.properties && feature.properties.name) || String(feature.id);
        layer.bindTooltip(name, {sticky: true});
      },
    }).addTo(this.map);
    this.outlines.bringToBack();
    this.map.getContainer().dataset.outlines = String(collection.features.length); // drawn on the canvas
    if (!this.fitted) this.fit();
  }

  /** Replace the sites shown (the overview's `sites`); the view stays where the user put it. */
  setSites(sites) {
    this.sites = sites.filter((s) => typeof s.lon === 'number' && typeof s.lat === 'number');
    if (this.sites.length > CLUSTER_ABOVE) {
      this.index = new Supercluster({
        radius: 48, maxZoom: 13,
        map: (p) => ({worst: RANK[p.key] ?? 0}),
        reduce: (acc, p) => { if (p.worst > acc.worst) acc.worst = p.worst; },
      });
      this.index.load(this.sites.map((s) => ({
        type: 'Feature', geometry: {type: 'Point', coordinates: [s.lon, s.lat]}, properties: {key: stateKey(s), site: s},
      })));
    } else {
      this.index = null;
    }
    if (!this.fitted) this.fit();
    this.draw();
  }

  /**
   * The top regions of the user's scope (e.g. 河池市 and 大同市 for the whole platform), each
   * `{code, name, prefix}`. When there are several, cities far apart framed together would each
   * be a speck: the map frames the one with the most sites and offers a button per region (and
   * one for all) to frame another.
   */
  setAreas(areas, label) {
    this.areas = areas.length > 1 ? areas : [];
    if (this.areaControl) { this.areaControl.remove(); this.areaControl = null; }
    if (!this.areas.length) return;
    const control = L.control({position: 'topright'});
    control.onAdd = () => {
      const box = document.createElement('div');
      box.className = 'map-areas leaflet-bar';
      const button = (text, area) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = text;
        b.dataset.area = area ? area.code : '*';
        b.addEventListener('click', (e) => { e.stopPropagation(); this.frameArea(area); });
        box.append(b);
      };
      for (const area of this.areas) button(area.name, area);
      button(label, null);
      L.DomEvent.disableClickPropagation(box);
      return box;
    };
    control.addTo(this.map);
    this.areaControl = control;
  }

  /** The bounds of one top region's outlines (all of them for null), or null. */
  areaBounds(area) {
    if (!this.outlines) return null;
    if (!area) return this.outlines.getBounds();
    const bounds = L.latLngBounds([]);
    this.outlines.eachLayer((layer) => {
      if (String(layer.feature && layer.feature.id).startsWith(area.prefix)) bounds.extend(layer.getBounds());
    });
    return bounds.isValid() ? bounds : null;
  }

  frameArea(area) {
    const bounds = this.areaBounds(area);
    if (!bounds) return;
    this.map.fitBounds(bounds, {padding: [16, 16], maxZoom: 13, animate: false});
    const el = this.map.getContainer();
    el.dataset.bounds = bounds.toBBoxString();
    el.dataset.area = area ? area.code : '*';
  }

  /** Frame the outlines (of the top region with the most sites, when there are several), or the
   * sites when there are no outlines. */
  fit() {
    let bounds = null;
    if (this.outlines && this.areas && this.areas.length && this.sites.length) {
      const count = (a) => this.sites.filter((s) => (s.region_code || '').startsWith(a.prefix)).length;
      const busiest = this.areas.reduce((best, a) => (count(a) > count(best) ? a : best));
      bounds = this.areaBounds(busiest);
      if (bounds) this.map.getContainer().dataset.area = busiest.code;
    }
    if (!bounds && this.outlines) bounds = this.outlines.getBounds();
    else if (!bounds && this.sites.length) bounds = L.latLngBounds(this.sites.map((s) => [s.lat, s.lon]));
    if (bounds && bounds.isValid()) {
      this.map.fitBounds(bounds, {padding: [16, 16], maxZoom: 13, animate: false});
      // with several top regions the final frame waits for the sites (which region is busiest)
      this.fitted = !(this.areas.length && !this.sites.length);
      this.map.getContainer().dataset.bounds = bounds.toBBoxString(); // what was framed (west,south,east,north)
    }
  }

  /** Frame the given sites (after a region filter). */
  fitSites(sites) {
    const placed = sites.filter((s) => typeof s.lon === 'number' && typeof s.lat === 'number');
    if (!placed.length) return;
    this.map.fitBounds(L.latLngBounds(placed.map((s) => [s.lat, s.lon])), {padding: [24, 24], maxZoom: 13, animate: false});
  }

  draw() {
    this.markers.clearLayers();
    this.map.getContainer().dataset.drawn = '0';
    if (!this.index) {
      for (const site of this.sites) this.markers.addLayer(this.siteMarker(site));
      this.map.getContainer().dataset.drawn = String(this.sites.length);
      return;
    }
    const b = this.map.getBounds();
    const zoom = Math.round(this.map.getZoom());
    const bbox = [Math.max(-180, b.getWest()), Math.max(-85, b.getSouth()), Math.min(180, b.getEast()), Math.min(85, b.getNorth())];
    for (const feature of this.index.getClusters(bbox, zoom)) {
      const p = feature.properties;
      if (!p.cluster) { this.markers.addLayer(this.siteMarker(p.site)); continue; }
      const [lon, lat] = feature.geometry.coordinates;
      const key = BY_RANK[p.worst] || 'normal';
      const size = p.point_count < 100 ? 30 : p.point_count < 1000 ? 38 : 46;
      const badge = document.createElement('div');
      badge.className = `cluster ${key}`;
      badge.textContent = String(p.point_count_abbreviated);
      const marker = L.marker([lat, lon], {icon: L.divIcon({html: badge, className: 'cluster-icon', iconSize: [size, size]}),
        keyboard: false});
      marker.on('click', () => {
        const next = Math.min(this.index.getClusterExpansionZoom(p.cluster_id), 16);
        this.map.setView([lat, lon], next);
      });
      this.markers.addLayer(marker);
    }
    this.map.getContainer().dataset.drawn = String(this.markers.getLayers().length);
  }

  siteMarker(site) {
    const key = stateKey(site);
    const marker = L.circleMarker([site.lat, site.lon], {
      renderer: this.renderer, radius: key.startsWith('alarm') ? 8 : 6, weight: 1.5, color: '#ffffff',
      fillColor: STATE_COLOURS[key] || STATE_COLOURS.normal, fillOpacity: 0.95,
    });
    marker.bindTooltip(() => this.opts.label(site)); // built when first shown
    marker.on('click', () => this.opts.onSite(site.id));
    return marker;
  }

  /** How many markers and clusters are drawn now (for tests and the benchmark). */
  drawn() { return this.markers.getLayers().length; }

  invalidate() { this.map.invalidateSize(); }

  destroy() {
    this.map.off('moveend', this.onMove);
    this.markers.clearLayers();
    this.map.remove();
    this.index = null;
    this.sites = [];
  }
}
