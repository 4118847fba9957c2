// The statistics page: a region's or an enterprise's figures over a day, a month or a year, as the
// report shows them (GET /api/v1/reports/{kind}: the same sections as the XLSX and the printed
// page), each section a chart (ECharts) and a table, the rankings, the report to download (XLSX,
// printable HTML), and the scheduled reports on file (GET /api/v1/reports/files). What is asked
// is kept in the URL (?kind=&region=|enterprise=&period=), so a view can be shared.

import {h, mount, select} from '../lib/dom.js';
import {addStrings, fmtNum, fmtPct, t} from '../lib/i18n.js';

addStrings({
  zh: {
    'st.subject': '对象', 'st.region': '区域', 'st.enterprise': '企业', 'st.kind': '报表', 'st.period': '统计周期',
    'st.daily': '日报', 'st.monthly': '月报', 'st.annual': '年报', 'st.show': '统计', 'st.download': '下载',
    'st.xlsx': 'Excel 报表', 'st.html': '打印版', 'st.files': '定时报表', 'st.files_none': '尚无定时生成的报表',
    'st.file': '文件', 'st.generated': '生成时间', 'st.target': '考核线 {p}', 'st.nodata': '无数据',
    'st.met': '达标', 'st.notmet': '未达标', 'st.pick': '请选择区域或企业', 'st.size': '大小',
  },
  en: {
    'st.subject': 'Subject', 'st.region': 'Region', 'st.enterprise': 'Enterprise', 'st.kind': 'Report',
    'st.period': 'Period', 'st.daily': 'Daily', 'st.monthly': 'Monthly', 'st.annual': 'Annual', 'st.show': 'Show',
    'st.download': 'Download', 'st.xlsx': 'Excel workbook', 'st.html': 'Printable page', 'st.files': 'Scheduled reports',
    'st.files_none': 'No scheduled reports yet', 'st.file': 'File', 'st.generated': 'Made', 'st.target': 'target {p}',
    'st.nodata': 'no data', 'st.met': 'met', 'st.notmet': 'not met', 'st.pick': 'Pick a region or an enterprise',
    'st.size': 'Size',
  },
});

const KINDS = ['daily', 'monthly', 'annual'];
const COLORS = ['#1f6feb', '#2e9d4d', '#e6a700', '#7a5af8', '#8a94a6'];

function pad(n) { return String(n).padStart(2, '0'); }

/** The current period of a kind, in the browser's calendar (the platform's zone for its users). */
function currentPeriod(kind) {
  const d = new Date();
  if (kind === 'daily') return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (kind === 'monthly') return `${d.getFullYear()}-${pad(d.getMonth() + 1)}`;
  return String(d.getFullYear());
}

/** The period input for a kind: a date, a month, or a year. */
function periodInput(kind, value) {
  if (kind === 'daily') return h('input', {type: 'date', name: 'period', value, required: true});
  if (kind === 'monthly') return h('input', {type: 'month', name: 'period', value, required: true});
  return h('input', {type: 'number', name: 'period', value, min: 1971, max: 9999, step: 1, required: true});
}

/** A cell as the reader sees it (the column's kind says what the number is). */
function cellText(column, value) {
  if (value === null || value === undefined) return '—';
  if (column.kind === 'text') return String(value);
  if (column.kind === 'rate') return fmtPct(value);
  if (column.kind === 'int') return fmtNum(value, 0);
  if (column.kind === 'number') return fmtNum(value, 2);
  return fmtNum(value, 1);
}

function below(column, value) {
  return column.target !== null && column.target !== undefined && typeof value === 'number' && value < column.target;
}

function sectionTable(section, lang) {
  return h('div', {class: 'st-table'}, h('table', null,
    h('thead', null, h('tr', null, section.columns.map((c) => h('th', null, c.title[lang] || c.title.zh)))),
    h('tbody', null, section.rows.map((row) => h('tr', null, row.map((value, i) => {
      const column = section.columns[i];
      const classes = [column.kind === 'text' ? '' : 'num', below(column, value) ? 'below' : ''].filter(Boolean);
      return h('td', {class: classes.join(' ') || null}, cellText(column, value));
    }))))));
}

/** An ECharts bar chart of a section as its chart spec says (the subject's own row left out). */
function drawChart(el, section, lang) {
  const spec = section.chart;
  const keys = section.columns.map((c) => c.key);
  const rows = section.rows.slice(spec.skip || 0, (spec.skip || 0) + 40);
  const labels = rows.map((r) => String(r[keys.indexOf(spec.label)] ?? ''));
  const rate = spec.values.every((k) => section.columns[keys.indexOf(k)].kind === 'rate');
  const series = spec.values.map((key, n) => {
    const column = section.columns[keys.indexOf(key)];
    const s = {name: column.title[lang] || column.title.zh, type: 'bar', itemStyle: {color: COLORS[n % COLORS.length]},
      data: rows.map((r) => { const v = r[keys.indexOf(key)]; return v === null ? null : (rate ? v * 100 : v); })};
    if (n === 0 && spec.target !== null && spec.target !== undefined && rate) {
      s.markLine = {symbol: 'none', silent: true, lineStyle: {color: '#d92d20', type: 'dashed'},
        label: {formatter: t('st.target', {p: `${Math.round(spec.target * 100)}%`})},
        data: [{yAxis: spec.target * 100}]};
    }
    return s;
  });
  const chart = echarts.init(el);
  chart.setOption({
    animation: false,
    tooltip: {trigger: 'axis', valueFormatter: (v) => (v === null || v === undefined ? '—'
      : (rate ? `${Number(v).toFixed(1)}%` : fmtNum(v, 1)))},
    legend: {top: 0},
    grid: {left: 48, right: 24, top: 36, bottom: 56},
    xAxis: {type: 'category', data: labels, axisLabel: {interval: 0, rotate: labels.length > 8 ? 30 : 0}},
    yAxis: {type: 'value', max: rate ? 100 : null, axisLabel: {formatter: rate ? '{value}%' : '{value}'}},
    series,
  });
  return chart;
}

function summaryTiles(section, lang) {
  return h('div', {class: 'tiles st-kpis'}, section.rows.map(([name, value, target, verdict]) =>
    h('div', {class: `tile ${target === null ? '' : (value === null ? 'nodata' : (value >= target ? 'met' : 'notmet'))}`},
      h('div', {class: 'value'}, value === null ? '—' : fmtPct(value)),
      h('div', {class: 'label'}, name),
      h('div', {class: 'label'}, target === null ? '' : `${t('st.target', {p: fmtPct(target, 0)})} · ${verdict}`))));
}

function fmtSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export default {
  title: {zh: '统计', en: 'Statistics'},
  async render(root, ctx) {
    document.head.querySelector('link[data-page=statistics]') ||
      document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/statistics.css', dataset: {page: 'statistics'}}));
    const lang = ctx.lang;
    const [regions, enterprises, files] = await Promise.all([
      ctx.api.get('regions', {limit: 1000}),
      ctx.api.get('enterprises', {limit: 1000}),
      ctx.api.get('reports/files'),
    ]);
    if (!ctx.alive()) return undefined;
    // the default subject: one's own region, else the first city (a region with districts, not a
    // province), else the first region, else the first enterprise (an enterprise's user)
    const parents = new Set(regions.items.map((r) => r.parent_code));
    const top = regions.items.find((r) => r.code === ctx.user.region_code)
      || regions.items.find((r) => parents.has(r.code) && !/^\d{2}0000$/.test(r.code)) || regions.items[0];
    const mayRegion = ctx.user.role !== 'enterprise_user';
    const state = {
      kind: KINDS.includes(ctx.query.get('kind')) ? ctx.query.get('kind') : 'monthly',
      region: ctx.query.get('region') || '',
      enterprise: ctx.query.get('enterprise') || '',
    };
    if (!state.region && !state.enterprise) {
      if (mayRegion && top) state.region = top.code;
      else if (enterprises.items.length) state.enterprise = String(enterprises.items[0].id);
    }
    state.period = ctx.query.get('period') || currentPeriod(state.kind);

    const charts = [];
    const disposeCharts = () => charts.splice(0).forEach((c) => c.dispose());
    const onResize = () => charts.forEach((c) => c.resize());
    window.addEventListener('resize', onResize);

    const body = h('div', {class: 'st-body', id: 'st-body'});
    const downloads = h('span', {class: 'st-downloads'});
    const subjectSel = select({name: 'subject'}, [
      ...(mayRegion ? regions.items.map((r) => [`r:${r.code}`, `${t('st.region')} · ${r.name} (${r.code})`]) : []),
      ...enterprises.items.map((e) => [`e:${e.id}`, `${t('st.enterprise')} · ${e.name}`]),
    ], state.region ? `r:${state.region}` : `e:${state.enterprise}`);
    const kindSel = select({name: 'kind'}, KINDS.map((k) => [k, t(`st.${k}`)]), state.kind);
    let periodEl = periodInput(state.kind, state.period);
    const periodLabel = h('label', null, t('st.period'), periodEl);
    kindSel.addEventListener('change', () => {
      const next = periodInput(kindSel.value, currentPeriod(kindSel.value));
      periodEl.replaceWith(next);
      periodEl = next;
    });
    const form = h('form', {class: 'filters', onsubmit: (event) => {
      event.preventDefault();
      const [type, id] = subjectSel.value.split(':');
      state.kind = kindSel.value;
      state.period = periodEl.value;
      state.region = type === 'r' ? id : '';
      state.enterprise = type === 'e' ? id : '';
      ctx.navigate(`/statistics?${query().toString()}`, {replace: true});
    }},
    h('label', null, t('st.subject'), subjectSel),
    h('label', null, t('st.kind'), kindSel),
    periodLabel,
    h('button', {type: 'submit', class: 'primary'}, t('st.show')),
    downloads);

    const query = (extra = {}) => {
      const q = new URLSearchParams({kind: state.kind, period: state.period});
      if (state.region) q.set('region', state.region);
      if (state.enterprise) q.set('enterprise', state.enterprise);
      for (const [k, v] of Object.entries(extra)) q.set(k, v);
      return q;
    };
    const apiUrl = (format) => {
      const q = query({format, lang});
      q.delete('kind');
      return `/api/v1/reports/${state.kind}?${q.toString()}`;
    };

    const fileList = h('section', {class: 'card', id: 'st-files'}, h('h2', null, t('st.files')),
      files.items.length === 0 ? h('p', {class: 'muted'}, t('st.files_none')) : h('div', {class: 'st-table'},
        h('table', null,
          h('thead', null, h('tr', null, [t('st.subject'), t('st.kind'), t('st.period'), t('st.file'), t('st.size'),
            t('st.generated')].map((x) => h('th', null, x)))),
          h('tbody', null, files.items.slice(0, 200).map((f) => h('tr', null,
            h('td', null, f.subject_name || f.code), h('td', null, t(`st.${f.kind}`)), h('td', null, f.period),
            h('td', null, h('a', {href: f.url, download: f.format === 'xlsx' ? f.name : null,
              target: f.format === 'html' ? '_blank' : null, rel: 'noopener'}, f.name)),
            h('td', {class: 'num'}, fmtSize(f.size)), h('td', null, f.modified.replace('T', ' ').slice(0, 16))))))));

    root.append(h('h1', null, t('nav.statistics')), form, body, fileList);

    if (!state.region && !state.enterprise) {
      mount(body, h('p', {class: 'muted'}, t('st.pick')));
      return () => { window.removeEventListener('resize', onResize); disposeCharts(); };
    }
    mount(downloads,
      h('a', {href: apiUrl('xlsx'), download: '', class: 'button', id: 'st-xlsx'}, `${t('st.download')} ${t('st.xlsx')}`),
      h('a', {href: apiUrl('html'), target: '_blank', rel: 'noopener', class: 'button', id: 'st-html'}, t('st.html')));
    mount(body, h('p', {class: 'muted'}, t('app.loading')));
    const params = query({lang});
    params.delete('kind');
    const report = await ctx.api.get(`reports/${state.kind}`, Object.fromEntries(params));
    if (!ctx.alive()) return undefined;
    const parts = [h('h2', {class: 'st-title', id: 'st-title'}, report.title[lang] || report.title.zh),
      h('p', {class: 'muted'}, `${report.start.slice(0, 10)} — ${report.end.slice(0, 10)} · ${t('st.generated')} `
        + report.generated.replace('T', ' ').slice(0, 16))];
    const later = [];
    for (const section of report.sections) {
      const title = section.title[lang] || section.title.zh;
      if (section.key === 'summary') {
        parts.push(h('section', {class: 'card', dataset: {section: section.key}}, h('h2', null, title),
          summaryTiles(section, lang)));
        continue;
      }
      const chartEl = section.chart && section.rows.length > (section.chart.skip || 0)
        ? h('div', {class: 'chart st-chart'}) : null;
      parts.push(h('section', {class: 'card', dataset: {section: section.key}}, h('h2', null, title), chartEl,
        sectionTable(section, lang)));
      if (chartEl) later.push(() => charts.push(drawChart(chartEl, section, lang)));
    }
    mount(body, ...parts);
    later.forEach((draw) => draw());
    return () => { window.removeEventListener('resize', onResize); disposeCharts(); };
  },
};
