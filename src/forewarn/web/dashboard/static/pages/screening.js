// The screening for doubtful data: findings with their evidence (facts, a chart of the evidence
// window against what it is compared with, the neighbours), for an auditor to confirm (the
// data is marked invalid in audit) or dismiss (with a reason). Kinds come from the API, and
// every finding's evidence has one shape, so this page knows no kind by name.
import {h, mount, select} from '../lib/dom.js';
import {addStrings, fmtNum, fmtTime} from '../lib/i18n.js';

addStrings({
  zh: {
    'scr.title': '可疑数据筛查', 'scr.help': '每日自动筛查恒值、超出物理可能、粉尘骤降低于周边、时钟漂移和重复数据包；确认后该时段数据在审核中标记为无效，排除后数据保持有效。',
    'scr.state': '状态', 'scr.kind': '类型', 'scr.all': '全部', 'scr.open': '待审核', 'scr.confirmed': '已确认', 'scr.dismissed': '已排除',
    'scr.run': '立即筛查', 'scr.span': '筛查范围', 'scr.yesterday': '昨天', 'scr.today': '今天至今', 'scr.week': '最近 7 天', 'scr.month': '最近 30 天', 'scr.ran': '筛查完成：{found} 条发现，其中新增 {new} 条', 'scr.empty': '没有符合条件的发现',
    'scr.window': '时段', 'scr.device': '设备', 'scr.point': '监测因子', 'scr.note': '说明（排除时必填）',
    'scr.confirm': '确认并标记无效', 'scr.dismiss': '排除', 'scr.judged': '{who} 于 {when} {state}', 'scr.mark': '审核标记 #{id}',
    'scr.neighbours': '周边监测点', 'scr.own': '本点', 'scr.reference': '周边中位数', 'scr.more': '更多',
    'scr.count': '共 {total} 条', 'scr.need_note': '排除需要说明理由',
  },
  en: {
    'scr.title': 'Doubtful data', 'scr.help': 'Screened daily for constant values, physically impossible values, dust drops below the neighbours, clock drift and repeated packets. Confirming marks the data invalid in audit; dismissing keeps it valid.',
    'scr.state': 'State', 'scr.kind': 'Kind', 'scr.all': 'All', 'scr.open': 'Open', 'scr.confirmed': 'Confirmed', 'scr.dismissed': 'Dismissed',
    'scr.run': 'Screen now', 'scr.span': 'Window', 'scr.yesterday': 'Yesterday', 'scr.today': 'Today so far', 'scr.week': 'Last 7 days', 'scr.month': 'Last 30 days', 'scr.ran': 'Screened: {found} findings, {new} new', 'scr.empty': 'No findings match',
    'scr.window': 'Window', 'scr.device': 'Device', 'scr.point': 'Point', 'scr.note': 'Note (required to dismiss)',
    'scr.confirm': 'Confirm and mark invalid', 'scr.dismiss': 'Dismiss', 'scr.judged': '{state} by {who} at {when}', 'scr.mark': 'audit mark #{id}',
    'scr.neighbours': 'Neighbours', 'scr.own': 'This monitor', 'scr.reference': 'Neighbours\' median', 'scr.more': 'More',
    'scr.count': '{total} in all', 'scr.need_note': 'Dismissing needs a reason',
  },
});

const PAGE = 50;
const DAY_MS = 86400000;

/** The window to screen: yesterday is the server's (its devices' zone); the others end now and
 *  start at a local midnight, sent as a date that the server reads in the devices' zone. */
function window_(span) {
  if (span === 'yesterday') return {};
  const back = {today: 0, week: 6, month: 29}[span];
  const start = new Date(Date.now() - back * DAY_MS);
  const date = `${start.getFullYear()}-${String(start.getMonth() + 1).padStart(2, '0')}-${String(start.getDate()).padStart(2, '0')}`;
  return {start: date, end: Date.now()};
}
let styled = false;

export default {
  title: {zh: '可疑数据筛查', en: 'Doubtful data'},
  async render(root, ctx) {
    if (!styled) { document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/screening.css'})); styled = true; }
    const {t} = ctx;
    const charts = [];
    const kinds = await ctx.api.get('screening/kinds');
    if (!ctx.alive()) return undefined;
    const state = select({name: 'state'}, [['open', t('scr.open')], ['confirmed', t('scr.confirmed')],
      ['dismissed', t('scr.dismissed')], ['', t('scr.all')]], ctx.query.get('state') ?? 'open');
    const kind = select({name: 'kind'}, [['', t('scr.all')], ...kinds.map((k) => [k.kind, ctx.pick({zh: k.title_zh, en: k.title_en})])],
      ctx.query.get('kind') || '');
    const count = h('span', {class: 'muted'});
    const list = h('div', {class: 'findings'});
    const more = h('button', {type: 'button', hidden: true, onclick: () => load(true)}, t('scr.more'));
    const span = select({name: 'span'}, [['yesterday', t('scr.yesterday')], ['today', t('scr.today')],
      ['week', t('scr.week')], ['month', t('scr.month')]], 'yesterday');
    const run = ctx.may('audit_data') ? h('button', {type: 'button', class: 'primary', name: 'run', onclick: async () => {
      run.disabled = true;
      try {
        const result = await ctx.api.post('screening/runs', window_(span.value));
        ctx.toast(t('scr.ran', {found: result.found, new: result.new}));
        await load(false);
      } catch (err) {
        ctx.toast(err.detail || String(err), 'error');
      } finally {
        run.disabled = false;
      }
    }}, t('scr.run')) : null;
    for (const el of [state, kind]) {
      el.addEventListener('change', () => {
        const q = new URLSearchParams();
        if (state.value !== 'open') q.set('state', state.value);
        if (kind.value) q.set('kind', kind.value);
        history.replaceState(null, '', `/screening${q.toString() ? `?${q}` : ''}`);
        load(false);
      });
    }
    root.append(h('section', {class: 'card'}, h('h1', null, t('scr.title')), h('p', {class: 'muted'}, t('scr.help')),
      h('div', {class: 'filters'}, h('label', null, t('scr.state'), state), h('label', null, t('scr.kind'), kind),
      run ? h('label', null, t('scr.span'), span) : null, run, count)),
      list, more);

    let shown = 0;
    async function load(append) {
      const query = {limit: PAGE, offset: append ? shown : 0};
      if (state.value) query.state = state.value;
      if (kind.value) query.kind = kind.value;
      const page = await ctx.api.get('screening/findings', query);
      if (!ctx.alive()) return;
      if (!append) { charts.splice(0).forEach((c) => c.dispose()); list.replaceChildren(); shown = 0; }
      page.items.forEach((f) => list.append(card(f)));
      shown += page.items.length;
      if (!shown) mount(list, h('p', {class: 'card muted'}, t('scr.empty')));
      count.textContent = t('scr.count', {total: page.total});
      more.hidden = shown >= page.total;
    }

    function card(f) {
      const facts = h('table', {class: 'facts'}, h('tbody', null,
        h('tr', null, h('td', null, t('scr.window')), h('td', null, `${fmtTime(f.start_ms, false)} – ${fmtTime(f.end_ms, false)}`)),
        h('tr', null, h('td', null, t('scr.device')), h('td', null, f.mn || '—')),
        f.point ? h('tr', null, h('td', null, t('scr.point')), h('td', null, f.point)) : null,
        ...(f.evidence.facts || []).map((x) => h('tr', null, h('td', null, ctx.pick(x)),
          h('td', null, typeof x.value === 'number' ? fmtNum(x.value, 3) : String(x.value))))));
      const neighbours = f.evidence.neighbours ? h('div', null, h('strong', null, t('scr.neighbours')),
        h('ul', {class: 'neighbours'}, f.evidence.neighbours.map((n) =>
          h('li', null, h('a', {href: `/sites/${n.site_id}`}, n.site), ` ${n.mn} · ${fmtNum(n.km, 2)} km · ${fmtNum(n.mean, 1)} ${f.evidence.unit || ''}`)))) : null;
      const chartEl = h('div', {class: 'evidence-chart'});
      const section = h('section', {class: 'card finding', dataset: {id: f.id, kind: f.kind, state: f.state}},
        h('div', null,
          h('h2', null, h('span', {class: `badge ${f.state}`}, t(`scr.${f.state}`)), ctx.pick({zh: f.kind_zh, en: f.kind_en}),
            h('a', {href: `/sites/${f.site_id}`}, f.site)),
          h('p', {class: 'summary'}, ctx.pick({zh: f.summary_zh, en: f.summary_en})), facts, neighbours, decision(f)),
        chartEl);
      requestAnimationFrame(() => { if (ctx.alive() && chartEl.isConnected) charts.push(drawChart(chartEl, f)); });
      return section;
    }

    function decision(f) {
      if (f.state !== 'open') {
        const when = fmtTime(f.decided);
        return h('p', {class: 'muted judged'}, t('scr.judged', {who: f.decided_by || '', when, state: t(`scr.${f.state}`)}),
          f.decision_note ? ` · ${f.decision_note}` : '', f.audit_mark_id ? ` · ${t('scr.mark', {id: f.audit_mark_id})}` : '');
      }
      if (!ctx.may('audit_data')) return null;
      const note = h('input', {name: 'note', placeholder: t('scr.note'), maxlength: 2000});
      const act = (what) => async (event) => {
        const button = event.currentTarget;
        if (what === 'dismiss' && !note.value.trim()) { ctx.toast(t('scr.need_note'), 'error'); note.focus(); return; }
        button.disabled = true;
        try {
          const judged = await ctx.api.post(`screening/findings/${f.id}/${what}`, {note: note.value.trim()});
          if (!ctx.alive()) return;
          const old = list.querySelector(`[data-id="${f.id}"]`);
          if (old) old.replaceWith(card(judged));
        } catch (err) {
          ctx.toast(err.detail || String(err), 'error');
          button.disabled = false;
        }
      };
      return h('div', {class: 'decide'}, note,
        h('button', {type: 'button', class: 'danger', name: 'confirm', onclick: act('confirm')}, t('scr.confirm')),
        h('button', {type: 'button', name: 'dismiss', onclick: act('dismiss')}, t('scr.dismiss')));
    }

    function drawChart(el, f) {
      const chart = window.echarts.init(el);
      const ev = f.evidence;
      const lines = (ev.lines || []).map((y) => ({yAxis: y}));
      const series = [{name: t('scr.own'), type: 'line', showSymbol: false, data: ev.series || [],
        markLine: lines.length ? {silent: true, symbol: 'none', data: lines, lineStyle: {type: 'dashed'}} : undefined,
        markArea: {silent: true, itemStyle: {opacity: 0.12}, data: [[{xAxis: f.start_ms}, {xAxis: f.end_ms}]]}}];
      if (ev.reference) series.push({name: t('scr.reference'), type: 'line', showSymbol: false, data: ev.reference});
      chart.setOption({
        animation: false,
        grid: {left: 48, right: 12, top: 24, bottom: 24},
        legend: ev.reference ? {top: 0} : undefined,
        tooltip: {trigger: 'axis'},
        xAxis: {type: 'time'},
        yAxis: {type: 'value', name: ev.unit || '', scale: true},
        series,
      });
      return chart;
    }

    await load(false);
    return () => charts.splice(0).forEach((c) => c.dispose());
  },
};
