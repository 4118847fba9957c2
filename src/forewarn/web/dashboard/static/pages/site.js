// The site page: who and where, its devices, live values against their limits, a trend chart
// (a year down to single readings, peaks kept), its equipment's ON/OFF bands, its alarms and a
// way into playback. Everything comes from GET /api/v1/sites/{id}/detail and the series API;
// live values and online states follow the live stream.
import {h, mount} from '../lib/dom.js';
import {addStrings, fmtNum, fmtTime} from '../lib/i18n.js';
import {bandColour, limitState, limitsText, stateBadge, STYLES} from './site_shared.js';
import {auditMarks} from '../lib/audit_marks.js';
import {cameraPanel} from '../lib/cameras.js';

addStrings({
  zh: {
    'site.devices': '设备', 'site.values': '实时数据', 'site.trend': '趋势', 'site.equipment': '设施运行状态',
    'site.alarms': '告警', 'site.playback': '回放最近 24 小时', 'site.cameras': '视频',
    'site.mn': 'MN', 'site.protocol': '协议', 'site.kind': '类型', 'site.interval': '上报间隔',
    'site.last': '最后通讯', 'site.online': '在线', 'site.offline': '离线', 'site.point': '监测项',
    'site.value': '数值', 'site.time': '时间', 'site.limits': '限值', 'site.state': '状态',
    'site.enterprise': '企业', 'site.type': '类型', 'site.address': '地址', 'site.status': '状态',
    'site.rule': '规则', 'site.level': '级别', 'site.first': '发生时间', 'site.condition': '条件',
    'site.replay': '回放', 'site.more': '全部告警（{n}）', 'site.noequipment': '规则未定义该站点的设施（风机、净化器、生产、治污）',
    'site.noalarms': '暂无告警', 'site.pick': '点击一行查看趋势', 'site.on': '运行', 'site.off': '停止',
    'site.zoomhint': '滚轮或拖动缩放：从一年到单条数据（峰值保留）',
    'status.new': '新建', 'status.active': '运行', 'status.maintenance': '维护', 'status.stopped': '停运',
    'status.retired': '撤销',
  },
  en: {
    'site.devices': 'Devices', 'site.values': 'Live values', 'site.trend': 'Trend', 'site.equipment': 'Equipment',
    'site.alarms': 'Alarms', 'site.playback': 'Play back the last 24 h', 'site.cameras': 'Cameras',
    'site.mn': 'MN', 'site.protocol': 'Protocol', 'site.kind': 'Kind', 'site.interval': 'Interval',
    'site.last': 'Last contact', 'site.online': 'online', 'site.offline': 'offline', 'site.point': 'Point',
    'site.value': 'Value', 'site.time': 'Time', 'site.limits': 'Limits', 'site.state': 'State',
    'site.enterprise': 'Enterprise', 'site.type': 'Type', 'site.address': 'Address', 'site.status': 'Status',
    'site.rule': 'Rule', 'site.level': 'Level', 'site.first': 'Raised', 'site.condition': 'Condition',
    'site.replay': 'Play back', 'site.more': 'All alarms ({n})', 'site.noequipment': 'No rule defines equipment (fan, purifier, production, treatment) for this site',
    'site.noalarms': 'No alarms', 'site.pick': 'Click a row to see its trend', 'site.on': 'ON', 'site.off': 'OFF',
    'site.zoomhint': 'Wheel or drag to zoom: from a year down to single readings (peaks kept)',
    'status.new': 'new', 'status.active': 'active', 'status.maintenance': 'maintenance', 'status.stopped': 'stopped',
    'status.retired': 'retired',
  },
});

const YEAR_MS = 365 * 86400000;
const MAX_POINTS = 2000;

export default {
  title: {zh: '站点', en: 'Site'},
  async render(root, ctx) {
    STYLES();
    const id = ctx.params.id;
    const page = await ctx.api.get(`sites/${id}/detail`);
    if (!ctx.alive()) return undefined;
    const {site} = page;
    const cleanups = [];
    const now = page.now_ms;
    const playHref = `/playback?site=${site.id}&from=${now - 86400000}&to=${now}&t=${now - 86400000}`;

    root.append(h('section', {class: 'card site-head'},
      h('div', {class: 'row'},
        h('div', {class: 'grow'},
          h('h1', null, site.name, ' ', h('span', {class: `badge ${site.status === 'active' ? 'normal' : site.status}`}, ctx.t(`status.${site.status}`))),
          h('dl', {class: 'facts'},
            h('dt', null, ctx.t('site.enterprise')), h('dd', null, site.enterprise),
            h('dt', null, ctx.t('site.type')), h('dd', null, ctx.pick({zh: site.site_type_zh, en: site.site_type_en})),
            h('dt', null, ctx.t('site.address')), h('dd', null, site.address || '—',
              site.longitude !== null ? ` (${fmtNum(site.longitude, 4)}, ${fmtNum(site.latitude, 4)})` : ''))),
        h('a', {class: 'button primary', href: playHref, 'data-test': 'site-playback'}, ctx.t('site.playback')))));

    // ---------------------------------------------------------------- devices
    const deviceRows = new Map();
    const deviceTable = h('table', {class: 'devices'},
      h('thead', null, h('tr', null, ['site.mn', 'site.protocol', 'site.kind', 'site.interval', 'site.last', 'site.state']
        .map((k) => h('th', null, ctx.t(k))))),
      h('tbody', null, page.devices.map((d) => {
        const last = h('td', null, fmtTime(d.last_contact_ms));
        const online = h('td', null);
        const setOnline = (up) => mount(online, h('span', {class: `badge ${up ? 'online' : 'offline'}`},
          ctx.t(up ? 'site.online' : 'site.offline')));
        setOnline(d.online);
        deviceRows.set(d.mn, {last, setOnline});
        return h('tr', {'data-mn': d.mn}, h('td', null, h('code', null, d.mn)), h('td', null, d.protocol),
          h('td', null, d.device_kind || '—'), h('td', null, `${d.interval_s} s`), last, online);
      })));
    root.append(h('section', {class: 'card'}, h('h2', null, ctx.t('site.devices')), deviceTable));

    // ---------------------------------------------------------------- live values
    const valueRows = new Map(); // "mn/code-field/kind" -> {value, time, state, point}
    let selected = page.values.find((v) => v.state === 'over_limit') || page.values.find((v) => v.value !== null) ||
      page.values[0];
    const valuesBody = h('tbody', null, page.values.map((v) => {
      const value = h('td', {class: 'num'});
      const time = h('td', null);
      const state = h('td', null);
      const row = h('tr', {class: 'pick', 'data-point-id': v.point_id, onclick: () => { selected = v; markSelected(); loadTrend(); }},
        h('td', null, v.name || `${v.code}-${v.field}`, h('div', {class: 'muted small'}, `${v.mn.slice(-6)} · ${v.code}-${v.field}`)),
        value, time, h('td', {class: 'small'}, limitsText(v.limits, v.unit, ctx)), state);
      const entry = {row, point: v};
      entry.show = (reading) => {
        value.textContent = reading.value === null || reading.value === undefined ? '—' : `${fmtNum(reading.value, 3)} ${v.unit}`;
        value.dataset.value = reading.value ?? '';
        time.textContent = fmtTime(reading.ts);
        const [st, level] = limitState(reading.value, reading.flag, v.limits);
        mount(state, stateBadge(st, level, ctx));
      };
      entry.show({value: v.value, ts: v.ts_ms, flag: v.flag});
      valueRows.set(`${v.mn}/${v.code}-${v.field}/${v.kind}`, entry);
      return row;
    }));
    const markSelected = () => valueRows.forEach((e) => e.row.classList.toggle('selected', e.point === selected));
    root.append(h('section', {class: 'card'}, h('h2', null, ctx.t('site.values'), ' ', h('span', {class: 'muted small'}, ctx.t('site.pick'))),
      h('table', {class: 'values'}, h('thead', null, h('tr', null, ['site.point', 'site.value', 'site.time', 'site.limits', 'site.state']
        .map((k) => h('th', null, ctx.t(k))))), valuesBody)));

    ctx.live.on('reading', (event) => {
      if (event.site_id !== site.id) return;
      const dev = deviceRows.get(event.mn);
      for (const r of event.readings) {
        const entry = valueRows.get(`${event.mn}/${r.code}-${r.field}/${event.kind}`);
        if (entry) entry.show({value: r.value, ts: Date.parse(r.ts), flag: r.flag});
      }
      if (dev) { dev.last.textContent = fmtTime(Date.now()); dev.setOnline(true); }
    });
    ctx.live.on('device', (event) => {
      const dev = deviceRows.get(event.mn);
      if (dev && typeof event.online === 'boolean') dev.setOnline(event.online);
    });

    // ---------------------------------------------------------------- trend
    const trendTitle = h('span');
    const trendEl = h('div', {class: 'chart trend', 'data-test': 'trend'});
    root.append(h('section', {class: 'card'}, h('h2', null, ctx.t('site.trend'), ' · ', trendTitle),
      h('p', {class: 'muted small'}, ctx.t('site.zoomhint')), trendEl));
    const trend = window.echarts.init(trendEl);
    cleanups.push(() => trend.dispose());
    const audit = auditMarks(ctx, trend, trendEl.parentNode, site); // data audit: select, mark, shade
    let trendToken = 0;
    let zoomTimer = null;
    const yearFrom = now - YEAR_MS;

    async function fetchSeries(point, from, to) {
      const answer = await ctx.api.get(`points/${point.point_id}/series`,
        {from: Math.round(from), to: Math.round(to), kind: point.kind, max_points: MAX_POINTS});
      return answer.points.map(([ts, value]) => [Date.parse(ts), value]);
    }

    async function loadTrend(from = yearFrom, to = now, keepZoom = false) {
      if (!selected) return;
      const token = ++trendToken;
      const point = selected;
      trendTitle.textContent = `${point.name || point.code} (${point.unit || '—'})`;
      let data;
      try { data = await fetchSeries(point, from, to); } catch (err) { ctx.toast(err.detail || String(err), 'error'); return; }
      if (!ctx.alive() || token !== trendToken) return;
      const marks = point.limits.map((lim) => ({yAxis: lim.value, name: ctx.pick({zh: lim.name_zh, en: lim.name_en}),
        lineStyle: {color: lim.level >= 2 ? '#d92d20' : '#e6a700', type: 'dashed'},
        label: {formatter: `${ctx.pick({zh: lim.name_zh, en: lim.name_en})} ${lim.value}`, position: 'insideEndTop'}}));
      trend.setOption({
        animation: false,
        grid: {left: 56, right: 24, top: 24, bottom: 64},
        tooltip: {trigger: 'axis'},
        xAxis: {type: 'time', min: keepZoom ? undefined : yearFrom, max: now},
        yAxis: {type: 'value', scale: true},
        dataZoom: [{type: 'inside', filterMode: 'none'}, {type: 'slider', filterMode: 'none', height: 20, bottom: 16}],
        series: [{type: 'line', name: point.name, data, showSymbol: data.length < 200, sampling: undefined,
          lineStyle: {width: 1}, markLine: {symbol: 'none', silent: true, data: marks}}],
      }, {replaceMerge: ['series']});
      audit.show(point, from, to);
    }

    // zooming in asks the series API again for the visible range: buckets narrow until they are single readings
    trend.on('datazoom', () => {
      clearTimeout(zoomTimer);
      zoomTimer = setTimeout(() => {
        const option = trend.getOption();
        const zoom = option.dataZoom[0];
        const span = now - yearFrom;
        const from = zoom.startValue ?? yearFrom + span * (zoom.start / 100);
        const to = zoom.endValue ?? yearFrom + span * (zoom.end / 100);
        loadTrend(from, to, true);
      }, 250);
    });
    cleanups.push(() => clearTimeout(zoomTimer));
    markSelected();
    loadTrend();

    // ---------------------------------------------------------------- equipment
    const equipmentCard = h('section', {class: 'card'}, h('h2', null, ctx.t('site.equipment'), ' ',
      h('span', {class: 'muted small'}, `${fmtTime(page.from_ms, false)} – ${fmtTime(page.to_ms, false)}`)));
    root.append(equipmentCard);
    if (!page.equipment.length) {
      equipmentCard.append(h('p', {class: 'muted'}, ctx.t('site.noequipment')));
    } else {
      const bandsEl = h('div', {class: 'chart bands', 'data-test': 'bands'});
      bandsEl.style.height = `${60 + 34 * page.equipment.length}px`;
      equipmentCard.append(bandsEl);
      const bands = window.echarts.init(bandsEl);
      cleanups.push(() => bands.dispose());
      const names = page.equipment.map((o) => ctx.pick({zh: o.name_zh, en: o.name_en}));
      const index = new Map(page.equipment.map((o, i) => [o.name, i]));
      bands.setOption({
        animation: false,
        grid: {left: 90, right: 24, top: 8, bottom: 28},
        tooltip: {formatter: (p) => `${names[p.value[0]]}: ${ctx.t(p.value[3] ? 'site.on' : 'site.off')}<br>${fmtTime(p.value[1])} – ${fmtTime(p.value[2])}`},
        xAxis: {type: 'time', min: page.from_ms, max: page.to_ms},
        yAxis: {type: 'category', data: names, inverse: true},
        series: [{type: 'custom', renderItem: bandItem, encode: {x: [1, 2], y: 0},
          data: page.bands.map((b) => [index.get(b.operand), b.from_ms, b.to_ms, b.on ? 1 : 0])}],
      });
    }

    // ---------------------------------------------------------------- alarms
    const alarmsCard = h('section', {class: 'card'}, h('h2', null, ctx.t('site.alarms')));
    root.append(alarmsCard);
    if (!page.alarms.length) {
      alarmsCard.append(h('p', {class: 'muted'}, ctx.t('site.noalarms')));
    } else {
      alarmsCard.append(h('table', {class: 'alarms'},
        h('thead', null, h('tr', null, ['site.level', 'site.alarms', 'site.first', 'site.state', 'site.replay']
          .map((k) => h('th', null, ctx.t(k))))),
        h('tbody', null, page.alarms.map((a) => h('tr', {class: [a.overdue ? 'overdue' : '', a.escalated ? 'escalated' : ''].join(' ').trim() || null},
          h('td', null, h('span', {class: `badge level${Math.min(a.level, 2)}`}, `${a.level}`)),
          h('td', null, h('a', {href: `/alarms/${a.id}`}, ctx.pick({zh: a.title_zh, en: a.title_en})),
            h('div', {class: 'muted small'}, ctx.pick({zh: a.explanation_zh, en: a.explanation_en}))),
          h('td', null, fmtTime(a.first_ts_ms)),
          h('td', null, a.state, a.condition === 'active' ? ' · ●' : ''),
          h('td', null, h('a', {href: `/playback?alarm=${a.id}`, 'data-test': 'alarm-playback'}, ctx.t('site.replay'))))))),
);
      if (page.alarms_total > page.alarms.length) {
        alarmsCard.append(h('p', null, h('a', {href: `/alarms?site=${site.id}`}, ctx.t('site.more', {n: page.alarms_total}))));
      }
    }

    // ---------------------------------------------------------------- cameras (lib/cameras.js; hidden when none)
    const cameras = cameraPanel(page.cameras, ctx);
    if (cameras) root.append(cameras);

    const onResize = () => { trend.resize(); };
    window.addEventListener('resize', onResize);
    cleanups.push(() => window.removeEventListener('resize', onResize));
    return () => cleanups.forEach((fn) => fn());
  },
};

/** One ON/OFF band of the equipment chart: [row, from, to, on]. */
function bandItem(params, api) {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.6;
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2, width: Math.max(1, end[0] - start[0]), height},
    style: {fill: bandColour(api.value(3))}};
}
