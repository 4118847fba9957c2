// The overview: every site of the user's scope on a map of their regions' outlines, coloured by
// state and clustered when dense; filters (region, site type, state) kept in the URL; the KPI
// tiles; the newest alarms, live, with a flash and (level 2 and up) a beep that can be muted.
// One API call draws it all: GET /api/v1/dashboard/overview (plus the outlines, fetched once
// and then revalidated by their ETag).

import {h, mount, select} from '../lib/dom.js';
import {addStrings, pick, t} from '../lib/i18n.js';
import {AlarmFeed, beep, muteButton} from './overview/feed.js';
import {SiteMap} from './overview/sitemap.js';
import {renderLegend, renderTiles} from './overview/tiles.js';

addStrings({
  zh: {
    'ov.region': '区域', 'ov.type': '站点类型', 'ov.state': '状态', 'ov.all': '全部', 'ov.all_areas': '全部', 'ov.sites': '{n} 个站点',
    'ov.unplaced': '（{n} 个无坐标，未在地图上）', 'ov.devices': '设备在线 {a}/{b}', 'ov.screen': '大屏模式',
    'ov.outlines_none': '尚未导入区域边界（forewarn regions import-geojson）',
  },
  en: {
    'ov.region': 'Region', 'ov.type': 'Site type', 'ov.state': 'State', 'ov.all': 'All', 'ov.all_areas': 'All', 'ov.sites': '{n} sites',
    'ov.unplaced': '({n} without a position, not on the map)', 'ov.devices': 'devices online {a}/{b}',
    'ov.screen': 'Big screen', 'ov.outlines_none': 'No region outlines imported yet (forewarn regions import-geojson)',
  },
});

/** A site's tooltip: name, enterprise, state, devices online. */
export function siteLabel(site) {
  return h('div', {class: 'site-tip'},
    h('strong', null, site.name), h('div', null, site.enterprise),
    h('div', null, `${t(`state.${site.state === 'alarm' ? `alarm${Math.min(site.alarm_level || 1, 2)}` : site.state}`)} · `
      + t('ov.devices', {a: site.devices_online, b: site.devices_total})));
}

/** The regions of the user's scope that no other region of it contains (the cities of a
 * platform, the one district of a district user); a region holding a single region of the
 * scope stands for it (广西 with only 河池市 is 河池市). */
export function topAreas(regions) {
  const codes = new Set(regions.map((r) => r.code));
  const children = (code) => regions.filter((r) => r.parent_code === code);
  return regions.filter((r) => !codes.has(r.parent_code)).map((r) => {
    let area = r;
    for (let only = children(area.code); only.length === 1; only = children(area.code)) area = only[0];
    return {code: area.code, name: area.name, prefix: area.prefix};
  });
}

export default {
  title: {zh: '总览', en: 'Overview'},
  async render(root, ctx) {
    document.head.querySelector('link[data-page=overview]') ||
      document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/overview.css', dataset: {page: 'overview'}}));
    const filters = {region: ctx.query.get('region') || '', site_type: ctx.query.get('site_type') || '',
      state: ctx.query.get('state') || ''};
    const started = performance.now();
    // the server narrows by region and site type (the tiles count what they select); the state
    // narrows only the markers, so it is applied here and a change of it needs no request
    const serverQuery = () => ({region: filters.region, site_type: filters.site_type});
    const [data, outlines] = await Promise.all([
      ctx.api.get('dashboard/overview', serverQuery()),
      ctx.api.get('regions/outlines').catch(() => null),
    ]);
    if (!ctx.alive()) return undefined;

    const tiles = h('div', {class: 'tiles kpis'});
    const legend = h('div', {class: 'legend'});
    const count = h('span', {class: 'muted count'});
    const mapEl = h('div', {class: 'map overview-map', id: 'overview-map'});
    const list = h('ol', {class: 'alarm-feed', id: 'alarm-feed'});
    const feed = new AlarmFeed(list);
    const bar = h('div', {class: 'filters'});
    root.append(
      bar, tiles,
      h('div', {class: 'row overview-body'},
        h('section', {class: 'card grow map-card'}, mapEl, h('div', {class: 'map-foot'}, legend, count)),
        h('section', {class: 'card feed-card'},
          h('div', {class: 'feed-head'}, h('h2', null, t('feed.title')), muteButton()),
          list)));

    const map = new SiteMap(mapEl, {tileUrl: data.map.tile_url, onSite: (id) => ctx.navigate(`/sites/${id}`),
      label: siteLabel});
    map.setAreas(topAreas(data.regions), t('ov.all_areas'));
    map.setOutlines(outlines);
    const prefixes = new Map(data.regions.map((r) => [r.code, r.prefix]));

    let current = data; // the last answer, for the region and site type it was asked with
    let everything = filters.region || filters.site_type ? null : data; // the last answer without them
    /** The sites of `answer` the filters select (the server's own rules: region prefix, type, state). */
    const selected = (answer) => {
      const prefix = prefixes.get(filters.region);
      return answer.sites.filter((s) => (!filters.state || s.state === filters.state)
        && (!filters.site_type || s.site_type === filters.site_type)
        && (!prefix || (s.region_code || '').startsWith(prefix)));
    };
    const drawSites = (sites, {refit = false} = {}) => {
      map.setSites(sites);
      if (refit) map.fitSites(sites);
      const unplaced = sites.filter((s) => typeof s.lon !== 'number' || typeof s.lat !== 'number').length;
      count.textContent = t('ov.sites', {n: sites.length}) + (unplaced ? ` ${t('ov.unplaced', {n: unplaced})}` : '')
        + (current.map.outlines ? '' : ` · ${t('ov.outlines_none')}`);
      root.dataset.sites = String(sites.length);
    };
    const draw = (answer, {refit = false} = {}) => {
      current = answer;
      if (!filters.region && !filters.site_type) everything = answer;
      drawSites(selected(answer), {refit});
      renderTiles(tiles, answer.kpis);
      renderLegend(legend, answer.kpis.by_state);
      feed.set(answer.newest_alarms);
      root.dataset.generatedAt = answer.generated_at;
    };

    let asked = 0;
    const refresh = async ({refit = false, change = ''} = {}) => {
      const mine = ++asked;
      const t0 = performance.now();
      try {
        const answer = await ctx.api.get('dashboard/overview', serverQuery());
        if (!ctx.alive() || mine !== asked) return;
        draw(answer, {refit});
        root.dataset.refreshMs = String(Math.round(performance.now() - t0));
        if (change) root.dataset.counted = change; // the tiles count this filter change (tests, benchmark)
      } catch (err) {
        if (ctx.alive()) ctx.toast(err.detail || String(err), 'error');
      }
    };

    const onFilter = (name) => (event) => {
      filters[name] = event.target.value;
      const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
      history.replaceState(null, '', query.toString() ? `/?${query}` : '/');
      const change = `${name}=${event.target.value}`;
      const t0 = performance.now();
      // the markers at once, from a list that holds every site the new filters can select ...
      if (name === 'state') drawSites(selected(current));
      else if (everything) drawSites(selected(everything), {refit: name === 'region'});
      root.dataset.filtered = change; // the map shows this filter change (tests, benchmark)
      root.dataset.filterMs = String(Math.round(performance.now() - t0));
      // ... then the tiles (and the markers, exactly as the server sees them) for region and type
      if (name === 'state') root.dataset.counted = change;
      else refresh({refit: name === 'region' && !everything, change});
    };
    const all = ['', t('ov.all')];
    mount(bar,
      h('label', null, t('ov.region'), select({name: 'region', onchange: onFilter('region')},
        [all, ...data.regions.map((r) => [r.code, `${r.name} ${r.code}`])], filters.region)),
      h('label', null, t('ov.type'), select({name: 'site_type', onchange: onFilter('site_type')},
        [all, ...data.site_types.map((st) => [st.id, pick(st.name)])], filters.site_type)),
      h('label', null, t('ov.state'), select({name: 'state', onchange: onFilter('state')},
        [all, ...data.states.map((s) => [s, t(`state.${s}`)])], filters.state)),
      h('span', {class: 'spacer'}),
      h('a', {href: '/screen', class: 'screen-link'}, t('ov.screen')));

    draw(data);
    root.dataset.renderMs = String(Math.round(performance.now() - started));

    // live: a new alarm at the top at once, a beep for level 2 and up; the map and tiles follow
    // within a second (one refresh for a burst of events, not one per event)
    let pending = null;
    ctx.live.on('alarm', (event) => {
      const known = feed.items.find((a) => a.alarm_id === event.alarm_id);
      const levelBefore = known ? known.level : 0;
      const isNew = feed.apply(event);
      if (event.level >= 2 && (isNew || (known && levelBefore < 2))) beep(); // new, or escalated to 2
      if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 800);
    });
    ctx.every(30000, () => refresh());
    return () => {
      if (pending) clearTimeout(pending);
      map.destroy();
    };
  },
};
