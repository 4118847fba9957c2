// The control-room screen (1920x1080 and up): the overview without the navigation bar, dark,
// needing no interaction, meant to run for days. It refreshes the overview every 30 s and
// right after live alarm events; every refresh replaces what is drawn (the map's one marker
// layer is cleared and refilled, the alarm list holds 20 lines), so nothing grows. When the
// platform cannot be reached the last picture stays, marked stale, and the next refresh
// retries.

import {h, mount} from '../lib/dom.js';
import {addStrings, fmtTime, t} from '../lib/i18n.js';
import {AlarmFeed, beep, muteButton} from './overview/feed.js';
import {SiteMap} from './overview/sitemap.js';
import {renderLegend, renderTiles} from './overview/tiles.js';
import {siteLabel, topAreas} from './overview.js';

addStrings({
  zh: {'screen.title': '监测预警指挥大屏', 'screen.stale': '数据未更新（{time}）', 'screen.sites': '{n} 个站点'},
  en: {'screen.title': 'Monitoring and early warning', 'screen.stale': 'not updated since {time}', 'screen.sites': '{n} sites'},
});

const REFRESH_MS = 30000;

export default {
  title: {zh: '大屏', en: 'Big screen'},
  async render(root, ctx) {
    document.head.querySelector('link[data-page=overview]') ||
      document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/overview.css', dataset: {page: 'overview'}}));
    const [data, outlines] = await Promise.all([
      ctx.api.get('dashboard/overview'),
      ctx.api.get('regions/outlines').catch(() => null),
    ]);
    if (!ctx.alive()) return undefined;

    const clock = h('span', {class: 'clock'});
    const stale = h('span', {class: 'stale'});
    const count = h('span', {class: 'count'});
    const tiles = h('div', {class: 'tiles kpis'});
    const legend = h('div', {class: 'legend'});
    const mapEl = h('div', {class: 'map', id: 'screen-map'});
    const list = h('ol', {class: 'alarm-feed', id: 'alarm-feed'});
    const feed = new AlarmFeed(list, {link: false});
    mount(root, h('div', {class: 'screen'},
      h('header', null, h('h1', null, t('screen.title')), count, stale, clock),
      h('section', {class: 'panel'}, tiles),
      h('section', {class: 'panel map-panel'}, mapEl, legend),
      h('section', {class: 'panel'}, h('div', {class: 'feed-head'}, h('h2', null, t('feed.title')), muteButton()), list)));

    const map = new SiteMap(mapEl, {tileUrl: data.map.tile_url, dark: true, label: siteLabel,
      onSite: (id) => ctx.navigate(`/sites/${id}`)});
    map.setAreas(topAreas(data.regions), t('ov.all_areas'));
    map.setOutlines(outlines);
    let lastGood = Date.now();
    const draw = (answer) => {
      map.setSites(answer.sites);
      renderTiles(tiles, answer.kpis);
      renderLegend(legend, answer.kpis.by_state);
      feed.set(answer.newest_alarms);
      count.textContent = t('screen.sites', {n: answer.sites.length});
      root.dataset.generatedAt = answer.generated_at;
      root.dataset.draws = String(Number(root.dataset.draws || 0) + 1); // how many refreshes drew (tests)
      lastGood = Date.now();
      stale.textContent = '';
    };
    let busy = false;
    const refresh = async () => {
      if (busy) return; // a slow answer is not stacked with another
      busy = true;
      try {
        const answer = await ctx.api.get('dashboard/overview');
        if (ctx.alive()) draw(answer);
      } catch (err) {
        if (ctx.alive()) stale.textContent = t('screen.stale', {time: fmtTime(lastGood, false)});
      } finally {
        busy = false;
      }
    };
    draw(data);
    const tick = () => { clock.textContent = fmtTime(Date.now()); };
    tick();
    ctx.every(1000, tick);
    ctx.every(REFRESH_MS, refresh);
    let pending = null;
    ctx.live.on('alarm', (event) => {
      const known = feed.items.find((a) => a.alarm_id === event.alarm_id);
      const levelBefore = known ? known.level : 0;
      const isNew = feed.apply(event);
      if (event.level >= 2 && (isNew || (known && levelBefore < 2))) beep();
      if (!pending) pending = setTimeout(() => { pending = null; refresh(); }, 800);
    });
    const onResize = () => map.invalidate();
    window.addEventListener('resize', onResize);
    return () => {
      if (pending) clearTimeout(pending);
      window.removeEventListener('resize', onResize);
      map.destroy();
    };
  },
};
