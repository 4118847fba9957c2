// Data audit on a point's trend chart: select a time range on the chart (ECharts brush), choose
// a reason and a note, mark it invalid or valid again; the ranges that count as invalid are
// shaded on the chart (markArea) and the marks covering the point are listed, each revocable.
// Everything goes through the API (/api/v1/data-marks, /api/v1/points/{id}/invalid), the same
// use cases as `forewarn audit` and the screening's findings. The controls need audit_data
// (auditors and administrators); everyone else sees the shading and the list.
import {h, mount, select} from './dom.js';
import {addStrings, fmtTime} from './i18n.js';

addStrings({
  zh: {
    'audit.title': '数据审核', 'audit.select': '在图上选择时段', 'audit.from': '开始', 'audit.to': '结束',
    'audit.target': '范围', 'audit.point': '本监测项', 'audit.device': '本设备全部监测项', 'audit.site': '本站点全部监测项',
    'audit.reason': '原因', 'audit.note': '说明', 'audit.invalid': '标记无效', 'audit.valid': '恢复有效',
    'audit.revoke': '撤销', 'audit.revokenote': '撤销原因', 'audit.none': '该监测项没有审核标记',
    'audit.hint': '点击“在图上选择时段”后在趋势图上拖动选择（结束留空：持续到手动结束，期间新数据不参与报警判定）；无效数据不参与超标判定、统计和图表，原始数据不变。',
    'audit.marked': '已标记（#{id}）', 'audit.revoked': '已撤销', 'audit.inforce': '有效', 'audit.open': '持续中',
    'audit.needrange': '请先选择时段', 'audit.neednote': '请填写撤销原因', 'audit.state.invalid': '无效',
    'audit.state.valid': '恢复有效', 'audit.by': '{actor} 于 {at}', 'audit.shade': '无效数据', 'audit.end': '结束',
    'reason.maintenance': '维护', 'reason.calibration': '校准', 'reason.fault': '故障',
    'reason.suspected_tampering': '疑似弄虚作假', 'reason.manual': '人工判定',
  },
  en: {
    'audit.title': 'Data audit', 'audit.select': 'Select a range on the chart', 'audit.from': 'From', 'audit.to': 'To',
    'audit.target': 'Covers', 'audit.point': 'this point', 'audit.device': 'every point of the device',
    'audit.site': 'every point of the site', 'audit.reason': 'Reason', 'audit.note': 'Note',
    'audit.invalid': 'Mark invalid', 'audit.valid': 'Mark valid again', 'audit.revoke': 'Revoke',
    'audit.revokenote': 'why revoked', 'audit.none': 'No audit marks cover this point',
    'audit.hint': 'Press "Select a range on the chart", then drag across the trend (leave "To" empty for an open-ended mark: new data is not judged for alarms until it is ended). Invalid data is left out of exceedance judgements, statistics and figures; the readings are never changed.',
    'audit.marked': 'Marked (#{id})', 'audit.revoked': 'revoked', 'audit.inforce': 'in force', 'audit.open': 'ongoing',
    'audit.needrange': 'Select a range first', 'audit.neednote': 'Say why it is revoked', 'audit.state.invalid': 'invalid',
    'audit.state.valid': 'valid again', 'audit.by': '{actor} at {at}', 'audit.shade': 'invalid data', 'audit.end': 'End now',
    'reason.maintenance': 'maintenance', 'reason.calibration': 'calibration', 'reason.fault': 'fault',
    'reason.suspected_tampering': 'suspected tampering', 'reason.manual': 'manual judgement',
  },
});

const REASONS = ['maintenance', 'calibration', 'fault', 'suspected_tampering', 'manual'];

/** 'YYYY-MM-DDTHH:MM' in the browser's zone, for a datetime-local input. */
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/**
 * The data-audit panel under a point's trend chart.
 * @param ctx the page's context; @param chart its ECharts instance (one line series);
 * @param card the element to add the panel to; @param site the site ({id}).
 * Returns {show(point, from, to)}: call after each (re)draw of the chart.
 */
export function auditMarks(ctx, chart, card, site) {
  if (!document.querySelector('link[href="/static/lib/audit_marks.css"]')) {
    document.head.append(h('link', {rel: 'stylesheet', href: '/static/lib/audit_marks.css'}));
  }
  const mayMark = ctx.may('audit_data');
  let point = null;
  let window_ = null;
  let token = 0;
  const fromInput = h('input', {type: 'datetime-local', 'data-test': 'audit-from'});
  const toInput = h('input', {type: 'datetime-local', 'data-test': 'audit-to'});
  const target = select({'data-test': 'audit-target'},
    [['point', ctx.t('audit.point')], ['device', ctx.t('audit.device')], ['site', ctx.t('audit.site')]], 'point');
  const reason = select({'data-test': 'audit-reason'}, REASONS.map((r) => [r, ctx.t(`reason.${r}`)]), 'calibration');
  const note = h('input', {type: 'text', maxlength: 2000, placeholder: ctx.t('audit.note'), 'data-test': 'audit-note'});
  const list = h('div', {'data-test': 'audit-list'});

  // the tooltip drawn on the canvas: ECharts' HTML tooltip sets style attributes, which the CSP
  // refuses, and selecting a range moves the mouse over the chart
  chart.setOption({tooltip: {renderMode: 'richText'}, brush: {xAxisIndex: 0, brushType: 'lineX', brushMode: 'single', transformable: false,
    throttleType: 'debounce', throttleDelay: 100, brushStyle: {color: 'rgba(230,167,0,0.2)', borderColor: '#e6a700'}}});
  chart.on('brushEnd', (event) => {
    const area = event.areas && event.areas[0];
    if (!area || !area.coordRange) return;
    const [a, b] = area.coordRange;
    fromInput.value = localInput(Math.round(a));
    toInput.value = localInput(Math.round(b));
  });
  const startSelecting = () => chart.dispatchAction({type: 'takeGlobalCursor', key: 'brush',
    brushOption: {brushType: 'lineX', brushMode: 'single'}});
  const stopSelecting = () => {
    chart.dispatchAction({type: 'brush', areas: []});
    chart.dispatchAction({type: 'takeGlobalCursor', key: 'brush', brushOption: {brushType: false}});
  };

  async function submit(valid) {
    const from = Date.parse(fromInput.value);
    const to = toInput.value ? Date.parse(toInput.value) : null; // no end: open-ended, until ended
    if (!point || Number.isNaN(from) || Number.isNaN(to)) { ctx.toast(ctx.t('audit.needrange'), 'error'); return; }
    const kind = target.value;
    const targetId = kind === 'point' ? point.point_id : kind === 'device' ? point.device_id : site.id;
    try {
      const made = await ctx.api.post('data-marks', {target: kind, target_id: targetId, start: from, end: to, valid,
        reason: reason.value, note: note.value});
      if (!ctx.alive()) return;
      ctx.toast(ctx.t('audit.marked', {id: made.id}));
      note.value = '';
      stopSelecting();
      refresh();
    } catch (err) { ctx.toast(err.detail || String(err), 'error'); }
  }

  const panel = h('div', {class: 'audit-marks', 'data-test': 'audit-marks'},
    h('h3', null, ctx.t('audit.title')),
    mayMark ? [
      h('p', {class: 'muted small'}, ctx.t('audit.hint')),
      h('div', {class: 'audit-form'},
        h('button', {type: 'button', onclick: startSelecting, 'data-test': 'audit-select'}, ctx.t('audit.select')),
        h('label', null, ctx.t('audit.from'), ' ', fromInput), h('label', null, ctx.t('audit.to'), ' ', toInput),
        h('label', null, ctx.t('audit.target'), ' ', target), h('label', null, ctx.t('audit.reason'), ' ', reason),
        note,
        h('button', {type: 'button', class: 'danger', onclick: () => submit(false), 'data-test': 'audit-invalid'},
          ctx.t('audit.invalid')),
        h('button', {type: 'button', onclick: () => submit(true), 'data-test': 'audit-valid'}, ctx.t('audit.valid'))),
    ] : null,
    list);
  card.append(panel);

  function row(m) {
    const why = h('input', {type: 'text', placeholder: ctx.t('audit.revokenote'), 'data-test': 'audit-revoke-note'});
    const revoke = async () => {
      if (!why.value.trim()) { ctx.toast(ctx.t('audit.neednote'), 'error'); return; }
      try {
        await ctx.api.post(`data-marks/${m.id}/revoke`, {note: why.value});
        if (ctx.alive()) refresh();
      } catch (err) { ctx.toast(err.detail || String(err), 'error'); }
    };
    const end = async () => {
      try {
        await ctx.api.post(`data-marks/${m.id}/end`, {});
        if (ctx.alive()) refresh();
      } catch (err) { ctx.toast(err.detail || String(err), 'error'); }
    };
    const ending = !m.revoked && mayMark && m.end_ms === null
      ? [h('button', {type: 'button', onclick: end, 'data-test': 'audit-end'}, ctx.t('audit.end')), ' '] : null;
    return h('tr', {class: m.revoked ? 'revoked muted' : null, 'data-mark-id': m.id},
      h('td', null, `#${m.id}`),
      h('td', null, h('span', {class: `badge ${m.valid ? 'normal' : 'level2'}`},
        ctx.t(m.valid ? 'audit.state.valid' : 'audit.state.invalid'))),
      h('td', null, `${fmtTime(m.start_ms)} – ${m.end_ms === null ? ctx.t('audit.open') : fmtTime(m.end_ms)}`),
      h('td', null, ctx.t(`audit.${m.target}`)),
      h('td', null, ctx.pick({zh: m.reason_zh, en: m.reason_en}), m.note ? h('div', {class: 'muted small'}, m.note) : null),
      h('td', {class: 'small'}, ctx.t('audit.by', {actor: m.actor, at: fmtTime(m.created_ms)}),
        m.revoked ? h('div', null, `${ctx.t('audit.revoked')}: ${m.revoked_by} · ${m.revoke_note}`) : null),
      h('td', null, !m.revoked && mayMark ? [ending, why, ' ', h('button', {type: 'button', onclick: revoke,
        'data-test': 'audit-revoke'}, ctx.t('audit.revoke'))] : (m.revoked ? ctx.t('audit.revoked') : ctx.t('audit.inforce'))));
  }

  async function refresh() {
    if (!point || !window_) return;
    const mine = ++token;
    const [from, to] = window_;
    let shaded;
    let marks;
    try {
      [shaded, marks] = await Promise.all([
        ctx.api.get(`points/${point.point_id}/invalid`, {from: Math.round(from), to: Math.round(to)}),
        ctx.api.get('data-marks', {point: point.point_id, limit: 100}),
      ]);
    } catch (err) { ctx.toast(err.detail || String(err), 'error'); return; }
    if (!ctx.alive() || mine !== token) return;
    chart.setOption({series: [{markArea: {silent: true, itemStyle: {color: 'rgba(120,120,120,0.18)'},
      label: {show: false}, data: shaded.ranges.map((r) => [{xAxis: r.start_ms, name: ctx.t('audit.shade')},
        {xAxis: r.end_ms}])}}]});
    chart.getDom().dataset.invalidRanges = String(shaded.ranges.length);
    mount(list, marks.items.length ? h('table', {class: 'audit-table'}, h('tbody', null, marks.items.map(row)))
      : h('p', {class: 'muted'}, ctx.t('audit.none')));
  }

  return {
    /** The chart now shows ``p`` over [from, to): shade its invalid ranges and list its marks. */
    show(p, from, to) {
      if (!point || point.point_id !== p.point_id) { fromInput.value = ''; toInput.value = ''; }
      point = p;
      window_ = [from, to];
      refresh();
    },
  };
}
