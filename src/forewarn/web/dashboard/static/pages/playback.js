// Incident playback: a site's readings, equipment, online state and alarms over a window, played
// at 1x to 3600x, paused, scrubbed, stepped alarm by alarm. Everything shown is the state AT the
// playback instant. One request (GET /api/v1/playback) loads the window; each animation frame
// then only moves a line over the charts and rewrites the cells whose value changed, so 3600x
// stays smooth. The URL keeps site, window and instant (replaceState, at most once a second),
// so a playback can be shared.
import {h, mount, select} from '../lib/dom.js';
import {addStrings, fmtTime} from '../lib/i18n.js';
import {bandColour, limitState, stateBadge, STYLES} from './site_shared.js';

addStrings({
  zh: {
    'pb.play': '播放', 'pb.pause': '暂停', 'pb.prev': '上一个告警', 'pb.next': '下一个告警', 'pb.speed': '倍速',
    'pb.values': '该时刻的数据', 'pb.equipment': '设施状态', 'pb.devices': '设备在线', 'pb.events': '告警事件',
    'pb.timeline': '时间线', 'pb.chart': '曲线（点击数据行添加或移除）', 'pb.window': '时间窗',
    'pb.site': '站点页', 'pb.pick': '选择站点与时间窗', 'pb.from': '开始', 'pb.to': '结束', 'pb.load': '回放',
    'pb.siteid': '站点编号', 'pb.alarms': '告警', 'pb.unknown': '未知', 'pb.online': '在线', 'pb.offline': '离线',
    'pb.on': '运行', 'pb.off': '停止', 'pb.reading': '数据时间', 'pb.noevents': '窗口内无告警事件',
    'pb.marker.alarm': '告警中', 'pb.marker.offline': '离线', 'pb.marker.normal': '正常',
    'step.fired': '告警', 'step.escalated': '升级', 'step.cleared': '恢复', 'step.recurred': '再次发生',
    'step.reopened': '重新打开', 'step.repeated': '重复', 'step.acknowledged': '确认', 'step.dispatched': '派单',
    'step.checked': '现场核查', 'step.resolved': '处置', 'step.closed': '办结', 'step.comment': '备注',
    'step.overdue': '超期', 'step.commented': '备注',
  },
  en: {
    'pb.play': 'Play', 'pb.pause': 'Pause', 'pb.prev': 'Previous alarm', 'pb.next': 'Next alarm', 'pb.speed': 'Speed',
    'pb.values': 'Values at this instant', 'pb.equipment': 'Equipment', 'pb.devices': 'Devices online',
    'pb.events': 'Alarm events', 'pb.timeline': 'Timeline', 'pb.chart': 'Chart (click a value row to add or remove it)',
    'pb.window': 'Window', 'pb.site': 'Site page', 'pb.pick': 'Choose a site and a window', 'pb.from': 'From',
    'pb.to': 'To', 'pb.load': 'Play back', 'pb.siteid': 'Site id', 'pb.alarms': 'Alarms', 'pb.unknown': 'unknown',
    'pb.online': 'online', 'pb.offline': 'offline', 'pb.on': 'ON', 'pb.off': 'OFF', 'pb.reading': 'Reading time',
    'pb.noevents': 'No alarm events in the window',
    'pb.marker.alarm': 'in alarm', 'pb.marker.offline': 'offline', 'pb.marker.normal': 'normal',
    'step.fired': 'raised', 'step.escalated': 'escalated', 'step.cleared': 'cleared', 'step.recurred': 'recurred',
    'step.reopened': 'reopened', 'step.repeated': 'repeated', 'step.acknowledged': 'acknowledged',
    'step.dispatched': 'dispatched', 'step.checked': 'checked on site', 'step.resolved': 'resolved',
    'step.closed': 'closed', 'step.comment': 'comment', 'step.overdue': 'overdue', 'step.commented': 'comment',
  },
});

const SPEEDS = [1, 10, 60, 300, 900, 3600];
const RAISED = new Set(['fired', 'escalated', 'recurred', 'reopened']);
const LEVEL_COLOURS = {1: '#e6a700', 2: '#d92d20'};
const URL_EVERY_MS = 1000;
/** Timeline colours: equipment OFF, ON, a device online, an alarm of level 1, of level 2 and up. */
const PALETTE = [bandColour(false), bandColour(true), '#7fb8ff', '#e6a700', '#d92d20'];

/** The last index i with ts[i] <= t (-1: none), starting the search from a hint (playing moves forward). */
function indexAt(ts, t, hint) {
  const n = ts.length;
  if (hint >= 0 && hint < n && ts[hint] <= t && (hint + 1 >= n || ts[hint + 1] > t)) return hint;
  if (hint >= 0 && hint + 1 < n && ts[hint + 1] <= t && (hint + 2 >= n || ts[hint + 2] > t)) return hint + 1;
  let lo = 0;
  let hi = n - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/** Whether t lies in one of the [from_ms, to_ms) spans. */
function within(spans, t) {
  for (const s of spans) if (s.from_ms <= t && t < s.to_ms) return s;
  return null;
}

function pickWindow(root, ctx) {
  const now = Date.now();
  const site = h('input', {name: 'site', type: 'number', min: 1, value: ctx.query.get('site') || ''});
  const from = h('input', {name: 'from', type: 'datetime-local', value: toLocalInput(now - 86400000)});
  const to = h('input', {name: 'to', type: 'datetime-local', value: toLocalInput(now)});
  root.append(h('form', {class: 'card filters', onsubmit: (event) => {
    event.preventDefault();
    const f = new Date(from.value).getTime();
    const tt = new Date(to.value).getTime();
    ctx.navigate(`/playback?site=${site.value}&from=${f}&to=${tt}&t=${f}`);
  }}, h('h1', null, ctx.t('pb.pick')), h('label', null, ctx.t('pb.siteid'), site), h('label', null, ctx.t('pb.from'), from),
  h('label', null, ctx.t('pb.to'), to), h('button', {type: 'submit', class: 'primary'}, ctx.t('pb.load'))));
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

export default {
  title: {zh: '回放', en: 'Playback'},
  async render(root, ctx) {
    STYLES();
    const q = ctx.query;
    if (!q.get('site') && !q.get('alarm')) { pickWindow(root, ctx); return undefined; }
    const data = await ctx.api.get('playback', {site: q.get('site'), alarm: q.get('alarm'), from: q.get('from'), to: q.get('to')});
    if (!ctx.alive()) return undefined;
    const cleanups = [];
    const {site} = data;
    const lo = data.from_ms;
    const hi = data.to_ms;
    const asked = Number(q.get('t'));
    let t = Number.isFinite(asked) && q.get('t') !== null && asked >= lo && asked <= hi ? asked : data.t_ms;
    let playing = false;
    let speed = 60;
    let raf = 0;
    let lastFrame = 0;
    let lastUrl = 0;
    // formatters made once: toLocaleString builds one per call, too slow for 30 cells a frame at 3600x
    const locale = ctx.lang === 'zh' ? 'zh-CN' : 'en-GB';
    const dateFormat = new Intl.DateTimeFormat(locale, {year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit',
      minute: '2-digit', second: '2-digit', hour12: false});
    const numberFormat = new Intl.NumberFormat(locale, {maximumFractionDigits: 3});
    const fmtAt = (ms) => dateFormat.format(ms);
    root.dataset.from = lo;
    root.dataset.to = hi;

    // ---------------------------------------------------------------- controls
    const clock = h('span', {class: 'play-clock', 'data-test': 'clock'});
    const slider = h('input', {type: 'range', min: lo, max: hi, step: 1000, value: t, 'aria-label': 'time',
      oninput: () => { setT(Number(slider.value), true); }});
    const playButton = h('button', {type: 'button', class: 'primary', 'data-test': 'play', onclick: () => (playing ? pause() : play())},
      ctx.t('pb.play'));
    const speedSelect = select({'data-test': 'speed', onchange: () => { speed = Number(speedSelect.value); }},
      SPEEDS.map((s) => [s, `${s}x`]), speed);
    const moments = raisedMoments(data);
    const prevButton = h('button', {type: 'button', 'data-test': 'prev-alarm', onclick: () => stepTo(-1)}, `◀ ${ctx.t('pb.prev')}`);
    const nextButton = h('button', {type: 'button', 'data-test': 'next-alarm', onclick: () => stepTo(1)}, `${ctx.t('pb.next')} ▶`);
    root.append(h('section', {class: 'card'},
      h('h1', null, site.name, ' ', h('span', {class: 'muted small'}, site.enterprise), ' ',
        h('a', {href: `/sites/${site.id}`, class: 'small'}, ctx.t('pb.site'))),
      h('p', {class: 'muted small'}, `${ctx.t('pb.window')}: ${fmtTime(lo)} – ${fmtTime(hi)}`),
      h('div', {class: 'play-controls'}, playButton, prevButton, nextButton,
        h('label', {class: 'small'}, ctx.t('pb.speed'), speedSelect), clock, slider)));

    // ---------------------------------------------------------------- values at the instant
    const series = data.series.map((s) => ({...s, hint: -1, shown: undefined}));
    const chosen = new Set(initialChoice(data, series));
    const valueCells = series.map((s) => {
      const value = h('td', {class: 'num', 'data-point-id': s.point_id, 'data-test': 'value'});
      const when = h('td', {class: 'small muted'});
      const state = h('td', null);
      const row = h('tr', {class: 'pick', onclick: () => { if (chosen.has(s)) chosen.delete(s); else chosen.add(s); drawValues(); markChosen(); }},
        h('td', null, s.name || `${s.code}-${s.field}`, h('div', {class: 'muted small'}, `${s.code}-${s.field} · ${s.unit}`)),
        value, when, state);
      return {s, row, value, when, state};
    });
    const markChosen = () => valueCells.forEach((c) => c.row.classList.toggle('selected', chosen.has(c.s)));
    const eqCells = new Map(data.equipment.map((o) => [o.name, h('span', {class: 'badge offline', 'data-operand': o.name})]));
    const devCells = new Map(data.devices.map((d) => [d.id, h('span', {class: 'badge offline', 'data-device': d.mn})]));
    const bandsOf = new Map(data.equipment.map((o) => [o.name, data.bands.filter((b) => b.operand === o.name)]));
    const onlineOf = new Map(data.devices.map((d) => [d.id, data.online.filter((o) => o.device_id === d.id)]));
    const titleOf = new Map(data.alarms.map((a) => [a.id, ctx.pick({zh: a.title_zh, en: a.title_en})]));
    const eventItems = data.events.map((e) => h('li', {'data-ts': e.ts_ms},
      h('span', {class: 'small'}, fmtTime(e.ts_ms)), ' ', h('b', null, ctx.t(`step.${e.step}`)), ' ', titleOf.get(e.alarm_id) || `#${e.alarm_id}`,
      ' ', h('button', {type: 'button', class: 'linkish small', onclick: () => { pause(); setT(e.ts_ms); }}, '▶')));
    const mapEl = h('div', {class: 'play-map'});
    const markerText = h('p', {class: 'small', 'data-test': 'marker-state'});

    root.append(h('div', {class: 'play-grid'},
      h('section', {class: 'card'}, h('h2', null, ctx.t('pb.values')),
        h('table', {class: 'values-at'}, h('tbody', null, valueCells.map((c) => c.row)))),
      h('div', null,
        h('section', {class: 'card'}, data.equipment.length ? [h('h2', null, ctx.t('pb.equipment')),
          h('div', {class: 'eq-state'}, data.equipment.map((o) => h('span', null, ctx.pick({zh: o.name_zh, en: o.name_en}), ' ', eqCells.get(o.name))))] : null,
          h('h2', null, ctx.t('pb.devices')),
          h('div', {class: 'eq-state'}, data.devices.map((d) => h('span', null, h('code', {class: 'small'}, d.mn.slice(-8)), ' ', devCells.get(d.id))))),
        site.latitude !== null ? h('section', {class: 'card'}, mapEl, markerText) : null,
        h('section', {class: 'card'}, h('h2', null, ctx.t('pb.events')),
          eventItems.length ? h('ol', {class: 'play-events'}, eventItems) : h('p', {class: 'muted'}, ctx.t('pb.noevents'))))));

    // ---------------------------------------------------------------- charts
    const valuesEl = h('div', {class: 'chart'});
    const timelineEl = h('div', {class: 'chart'});
    const rows = [...data.equipment.map((o) => ctx.pick({zh: o.name_zh, en: o.name_en})),
      ...data.devices.map((d) => d.mn.slice(-8)), ctx.t('pb.alarms')];
    timelineEl.style.height = `${70 + 26 * rows.length}px`;
    const lines = [h('div', {class: 'instant-line'}), h('div', {class: 'instant-line'})];
    root.append(h('section', {class: 'card'}, h('h2', null, ctx.t('pb.chart')), h('div', {class: 'chart-wrap'}, valuesEl, lines[0])),
      h('section', {class: 'card'}, h('h2', null, ctx.t('pb.timeline')), h('div', {class: 'chart-wrap'}, timelineEl, lines[1])));
    const valuesChart = window.echarts.init(valuesEl);
    const timeline = window.echarts.init(timelineEl);
    cleanups.push(() => valuesChart.dispose(), () => timeline.dispose());
    const charts = [valuesChart, timeline];
    const grid = {left: 90, right: 24, top: 16, bottom: 28};

    function drawValues() {
      const picked = series.filter((s) => chosen.has(s));
      const single = picked.length === 1 ? picked[0] : null;
      valuesChart.setOption({
        animation: false, grid, tooltip: {trigger: 'axis'}, legend: {top: 0, type: 'scroll'},
        xAxis: {type: 'time', min: lo, max: hi}, yAxis: {type: 'value', scale: true},
        series: picked.map((s) => ({type: 'line', name: `${s.name || s.code} ${s.unit}`, showSymbol: false, lineStyle: {width: 1},
          data: s.ts.map((ts, i) => [ts, s.values[i]]),
          markLine: single ? {symbol: 'none', silent: true, data: s.limits.map((lim) => ({yAxis: lim.value,
            lineStyle: {color: LEVEL_COLOURS[Math.min(lim.level, 2)], type: 'dashed'}}))} : undefined})),
      }, {replaceMerge: ['series']});
      placeLines();
    }

    const alarmRow = rows.length - 1;
    const tlData = [];
    data.equipment.forEach((o, row) => bandsOf.get(o.name).forEach((b) => tlData.push([row, b.from_ms, b.to_ms, b.on ? 1 : 0])));
    data.devices.forEach((d, i) => onlineOf.get(d.id).forEach((o) => tlData.push([data.equipment.length + i, o.from_ms, o.to_ms, 2])));
    data.alarms.forEach((a) => tlData.push([alarmRow, Math.max(a.first_ts_ms, lo), a.cleared_ts_ms ?? hi, a.level >= 2 ? 4 : 3]));
    timeline.setOption({
      animation: false, grid, tooltip: {formatter: (p) => (p.seriesType === 'custom' ? `${rows[p.value[0]]}: ${fmtTime(p.value[1])} – ${fmtTime(p.value[2])}` : `${p.value[2]}`)},
      xAxis: {type: 'time', min: lo, max: hi}, yAxis: {type: 'category', data: rows, inverse: true},
      series: [{type: 'custom', renderItem: bandItem, encode: {x: [1, 2], y: 0}, data: tlData},
        {type: 'scatter', symbol: 'diamond', symbolSize: 10, itemStyle: {color: '#102a4c'},
          data: data.events.filter((e) => RAISED.has(e.step) || e.step === 'cleared')
            .map((e) => [e.ts_ms, alarmRow, `${ctx.t(`step.${e.step}`)} ${titleOf.get(e.alarm_id) || ''}`])}],
    });
    const clickToSeek = (chart) => chart.getZr().on('click', (event) => {
      const [x] = chart.convertFromPixel({xAxisIndex: 0}, [event.offsetX, event.offsetY]) || [];
      if (Number.isFinite(x)) { pause(); setT(Math.min(hi, Math.max(lo, x))); }
    });
    clickToSeek(valuesChart);
    clickToSeek(timeline);

    function placeLines() {
      charts.forEach((chart, i) => {
        const x = chart.convertToPixel({xAxisIndex: 0}, t);
        lines[i].style.transform = `translateX(${Number.isFinite(x) ? x : -10}px)`;
      });
    }

    // ---------------------------------------------------------------- the map marker
    let map = null;
    let marker = null;
    if (site.latitude !== null && window.L) {
      map = window.L.map(mapEl, {zoomControl: false, attributionControl: false}).setView([site.latitude, site.longitude], 13);
      marker = window.L.circleMarker([site.latitude, site.longitude], {radius: 11, weight: 2, color: '#fff', fillOpacity: 0.9, fillColor: '#2e9d4d'}).addTo(map);
      cleanups.push(() => map.remove());
    }
    let markerState = '';

    // ---------------------------------------------------------------- the instant
    let eventIndex = -2;
    const eventTs = data.events.map((e) => e.ts_ms);

    function setT(next, fromSlider = false) {
      t = Math.min(hi, Math.max(lo, next));
      root.dataset.t = String(Math.round(t));
      clock.textContent = fmtAt(t);
      if (!fromSlider) slider.value = String(t);
      for (const c of valueCells) {
        const s = c.s;
        const i = indexAt(s.ts, t, s.hint);
        s.hint = i;
        if (i === s.shown) continue;
        s.shown = i;
        const reading = i >= 0 ? [s.ts[i], s.values[i], s.flags[i]] : s.before;
        if (!reading) { c.value.textContent = '—'; c.value.dataset.value = ''; c.when.textContent = ''; mount(c.state); continue; }
        const [ts, value, flag] = reading;
        c.value.textContent = value === null ? '—' : numberFormat.format(value);
        c.value.dataset.value = value === null ? '' : String(value);
        c.value.dataset.ts = String(ts);
        c.when.textContent = fmtAt(ts);
        const [st, level] = limitState(value, flag, s.limits);
        if (c.state.dataset.key !== `${st}${level}`) { c.state.dataset.key = `${st}${level}`; mount(c.state, stateBadge(st, level, ctx)); }
      }
      for (const [name, cell] of eqCells) {
        const band = within(bandsOf.get(name), t);
        const key = band ? (band.on ? 'on' : 'off') : 'unknown';
        if (cell.dataset.state === key) continue;
        cell.dataset.state = key;
        cell.className = `badge ${key === 'on' ? 'normal' : 'offline'}`;
        cell.textContent = ctx.t(key === 'unknown' ? 'pb.unknown' : `pb.${key}`);
      }
      let online = 0;
      for (const [id, cell] of devCells) {
        const up = within(onlineOf.get(id), t) !== null;
        online += up ? 1 : 0;
        if (cell.dataset.state === String(up)) continue;
        cell.dataset.state = String(up);
        cell.className = `badge ${up ? 'online' : 'offline'}`;
        cell.textContent = ctx.t(up ? 'pb.online' : 'pb.offline');
      }
      let level = 0;
      for (const a of data.alarms) if (a.first_ts_ms <= t && (a.cleared_ts_ms === null || t < a.cleared_ts_ms)) level = Math.max(level, a.level);
      const state = level ? `alarm${Math.min(level, 2)}` : online ? 'normal' : 'offline';
      if (state !== markerState) {
        markerState = state;
        const colour = level ? LEVEL_COLOURS[Math.min(level, 2)] : online ? '#2e9d4d' : '#8a94a6';
        if (marker) marker.setStyle({fillColor: colour});
        markerText.textContent = ctx.t(`pb.marker.${level ? 'alarm' : online ? 'normal' : 'offline'}`) + (level ? ` · ${level}` : '');
        markerText.dataset.state = state;
      }
      const at = indexAt(eventTs, t, eventIndex);
      if (at !== eventIndex) {
        eventIndex = at;
        eventItems.forEach((li, i) => { li.className = i < at ? 'past' : i === at ? 'now' : ''; });
      }
      placeLines();
      const wall = performance.now();
      if (wall - lastUrl >= URL_EVERY_MS || !playing) {
        lastUrl = wall;
        const params = new URLSearchParams({site: String(site.id), from: String(lo), to: String(hi), t: String(Math.round(t))});
        if (data.alarm_id !== null) params.set('alarm', String(data.alarm_id));
        history.replaceState(null, '', `/playback?${params}`);
      }
    }

    function frame(now) {
      if (!playing) return;
      const dt = lastFrame ? now - lastFrame : 0;
      lastFrame = now;
      const next = t + dt * speed;
      setT(next);
      if (next >= hi) { pause(); return; }
      raf = requestAnimationFrame(frame);
    }
    function play() {
      if (t >= hi) setT(lo);
      playing = true;
      lastFrame = 0;
      playButton.textContent = ctx.t('pb.pause');
      root.dataset.playing = '1';
      raf = requestAnimationFrame(frame);
    }
    function pause() {
      playing = false;
      cancelAnimationFrame(raf);
      playButton.textContent = ctx.t('pb.play');
      root.dataset.playing = '';
      setT(t);
    }
    function stepTo(direction) {
      pause();
      const target = direction > 0 ? moments.find((m) => m > t + 500) : [...moments].reverse().find((m) => m < t - 500);
      if (target !== undefined) setT(target);
    }
    cleanups.push(() => { playing = false; cancelAnimationFrame(raf); });

    const onResize = () => { charts.forEach((c) => c.resize()); if (map) map.invalidateSize(); placeLines(); };
    window.addEventListener('resize', onResize);
    cleanups.push(() => window.removeEventListener('resize', onResize));
    markChosen();
    drawValues();
    setT(t);
    root.dataset.ready = '1';
    return () => cleanups.forEach((fn) => fn());
  },
};

/** The instants alarms were raised (or rose a level, or came back), in order: what the previous/next alarm buttons step to. */
function raisedMoments(data) {
  const out = new Set(data.alarms.map((a) => a.first_ts_ms).filter((ts) => ts >= data.from_ms && ts <= data.to_ms));
  for (const e of data.events) if (RAISED.has(e.step)) out.add(e.ts_ms);
  return [...out].sort((a, b) => a - b);
}

/** The chart's first points: the alarm's own point when asked by alarm, else those with limits. */
function initialChoice(data, series) {
  const alarm = data.alarms.find((a) => a.id === data.alarm_id);
  if (alarm && alarm.point) {
    const own = series.filter((s) => s.mn === alarm.mn && `${s.code}-${s.field}` === alarm.point);
    if (own.length) return own;
  }
  const limited = series.filter((s) => s.limits.length);
  return (limited.length ? limited : series).slice(0, 3);
}

/** One band of the timeline: [row, from, to, colour]. */
function bandItem(params, api) {
  const row = api.value(0);
  const start = api.coord([api.value(1), row]);
  const end = api.coord([api.value(2), row]);
  const height = api.size([0, 1])[1] * 0.6;
  return {type: 'rect', shape: {x: start[0], y: start[1] - height / 2, width: Math.max(1, end[0] - start[0]), height},
    style: {fill: PALETTE[api.value(3)]}};
}
