// One alarm: its explanation, the evidence readings with the rule's limits drawn, the rule and
// version that raised it, every step with who and when, and a form for each handling step the
// user's role may take. A step out of order is still sent: the API's answer says what comes
// first, and that sentence is shown as it is (the same one the CLI prints).
import {fileToBase64} from '../lib/api.js';
import {h, mount} from '../lib/dom.js';
import {addStrings, fmtNum, fmtTime} from '../lib/i18n.js';
import {flags, levelBadge, stateBadge, useDeskStyles} from './alarm_desk.js';
import {alarmSnapshots} from '../lib/cameras.js';

addStrings({
  zh: {
    'alarm.playback': '回放', 'alarm.site': '站点', 'alarm.where': '企业 / 站点', 'alarm.region': '区域',
    'alarm.device': '设备 MN', 'alarm.point': '监测点', 'alarm.first': '首次发生', 'alarm.last': '最近一次',
    'alarm.cleared': '恢复时间', 'alarm.repeats': '重复次数', 'alarm.assignee': '处置人', 'alarm.rule': '规则',
    'alarm.version': '第 {v} 版', 'alarm.source': '依据', 'alarm.condition': '当前状况',
    'alarm.evidence': '证据数据', 'alarm.no_evidence': '没有保存证据数据', 'alarm.steps': '处理记录',
    'alarm.actions': '处理', 'alarm.next': '当前可进行', 'alarm.findings': '现场发现', 'alarm.measures': '采取措施',
    'alarm.files': '照片或文件（最多 5 个，共 8 MB）', 'alarm.note': '说明', 'alarm.text': '备注内容',
    'alarm.to': '派给（单位或人员）', 'alarm.submit': '提交', 'alarm.taken': '已{step}',
    'alarm.limit': '限值', 'alarm.attachment': '附件',
    'alarm.course': '本次过程', 'alarm.course_line': '{start} 起，持续 {min} 分钟', 'alarm.ongoing': '（仍在持续）',
    'alarm.peak': '峰值', 'alarm.low': '最低值', 'alarm.group': '同批告警',
    'group.platform_restart': '平台恢复后仍未上线', 'group.offline_storm': '同时段大量设备离线',
    'alarm.group_link': '第 {id} 批，查看并一起处置',
  },
  en: {
    'alarm.playback': 'Playback', 'alarm.site': 'Site', 'alarm.where': 'Enterprise / site', 'alarm.region': 'Region',
    'alarm.device': 'Device MN', 'alarm.point': 'Point', 'alarm.first': 'First seen', 'alarm.last': 'Last seen',
    'alarm.cleared': 'Back to normal at', 'alarm.repeats': 'Repeats', 'alarm.assignee': 'Assignee', 'alarm.rule': 'Rule',
    'alarm.version': 'version {v}', 'alarm.source': 'Basis', 'alarm.condition': 'Condition',
    'alarm.evidence': 'Evidence', 'alarm.no_evidence': 'No evidence readings kept', 'alarm.steps': 'Handling record',
    'alarm.actions': 'Handle', 'alarm.next': 'possible now', 'alarm.findings': 'Findings on site',
    'alarm.measures': 'Measures taken', 'alarm.files': 'Photos or files (at most 5, 8 MB in all)', 'alarm.note': 'Note',
    'alarm.text': 'Comment', 'alarm.to': 'Send to (unit or person)', 'alarm.submit': 'Submit',
    'alarm.taken': '{step}: done', 'alarm.limit': 'limit', 'alarm.attachment': 'attachment',
    'alarm.course': 'This episode', 'alarm.course_line': 'from {start}, {min} min', 'alarm.ongoing': ' (ongoing)',
    'alarm.peak': 'peak', 'alarm.low': 'lowest', 'alarm.group': 'Storm',
    'group.platform_restart': 'still silent after the platform came back', 'group.offline_storm': 'many devices silent at once',
    'alarm.group_link': 'group {id}: see and handle them together',
  },
});

/** Each step's form: the fields it sends (the API's names) and which are text areas. */
const FORMS = [
  ['ack', [['note', 'alarm.note']]],
  ['dispatch', [['to', 'alarm.to'], ['note', 'alarm.note']]],
  ['record', [['findings', 'alarm.findings', true], ['measures', 'alarm.measures', true], ['note', 'alarm.note']]],
  ['resolve', [['note', 'alarm.note']]],
  ['close', [['note', 'alarm.note']]],
  ['comment', [['text', 'alarm.text', true]]],
];
const NEEDS = {record: ['record_checks'], comment: ['record_checks', 'handle_alarms']};

export default {
  title: {zh: '告警详情', en: 'Alarm'},
  async render(root, ctx) {
    useDeskStyles();
    const {t} = ctx;
    const id = Number(ctx.params.id);
    let chart = null;
    const top = h('div');
    root.append(top);

    function mayTake(step) {
      return (NEEDS[step] || ['handle_alarms']).some((action) => ctx.may(action));
    }

    async function load() {
      const alarm = await ctx.api.get(`alarms/${id}`, {lang: ctx.lang});
      if (!ctx.alive()) return;
      if (chart) { chart.dispose(); chart = null; }
      const chartEl = h('div', {class: 'evidence'});
      mount(top, header(alarm), h('div', {class: 'row'},
        h('section', {class: 'card grow'}, h('h2', null, t('alarm.evidence')),
          alarm.evidence.length ? chartEl : h('p', {class: 'muted'}, t('alarm.no_evidence'))),
        h('section', {class: 'card grow'}, h('h2', null, t('alarm.steps')), steps(alarm))),
      alarmSnapshots(alarm, ctx), forms(alarm));
      if (alarm.evidence.length) chart = drawEvidence(chartEl, alarm);
    }

    function header(a) {
      const rule = a.rule;
      const fact = (key, value) => [h('dt', null, t(key)), h('dd', null, value)];
      return h('section', {class: 'card'},
        h('div', {class: 'alarm-head'}, h('h1', null, `#${a.id} ${a.title}`), levelBadge(t, a.level),
          stateBadge(t, a.state), flags(t, a), h('span', {class: 'spacer'}),
          h('a', {href: `/playback?alarm=${a.id}`, class: 'playback-link'}, `▶ ${t('alarm.playback')}`)),
        h('p', {class: 'explanation'}, a.explanation),
        h('dl', {class: 'facts'},
          fact('alarm.where', [a.enterprise, ' / ', a.site_id ? h('a', {href: `/sites/${a.site_id}`}, a.site) : a.site]),
          fact('alarm.region', `${a.region_name} ${a.region_code}`.trim() || '—'),
          fact('alarm.device', a.mn || '—'), fact('alarm.point', a.point || '—'),
          fact('alarm.condition', t(`cond.${a.condition}`)),
          fact('alarm.first', fmtTime(a.first_ts)), fact('alarm.last', fmtTime(a.last_ts)),
          a.cleared_ts ? fact('alarm.cleared', fmtTime(a.cleared_ts)) : null,
          fact('alarm.repeats', String(a.repeats)), fact('alarm.assignee', a.assignee || '—'),
          fact('alarm.rule', [h('code', null, a.rule_id), ' ', t('alarm.version', {v: a.rule_version}),
            rule ? ` · ${ctx.lang === 'en' ? rule.title_en : rule.title_zh}` : '']),
          rule && rule.source ? fact('alarm.source', rule.source) : null,
          a.course ? fact('alarm.course', course(a.course)) : null,
          a.group ? fact('alarm.group', [t(`group.${a.group.cause}`), ' · ',
            h('a', {href: `/alarms?group=${a.group.id}&open=all`}, t('alarm.group_link', {id: a.group.id}))]) : null));
    }

    /** The episode in one line: when it began, how long, and its peak (or lowest) with unit. */
    function course(c) {
      const line = t('alarm.course_line', {start: fmtTime(c.start_ts), min: fmtNum(c.duration_s / 60, 1)}) +
        (c.ongoing ? t('alarm.ongoing') : '');
      if (!c.peak) return line;
      const word = t(c.peak.low ? 'alarm.low' : 'alarm.peak');
      return `${line} · ${word} ${fmtNum(c.peak.value)} ${c.peak.unit} (${c.peak.code}, ${fmtTime(c.peak.ts)})`;
    }

    function steps(a) {
      return h('ol', {class: 'steps'}, a.steps.map((s) => h('li', {dataset: {step: s.step}},
        h('span', {class: 'when'}, fmtTime(s.at)), h('span', {class: 'actor'}, s.actor),
        h('span', {class: 'what'}, t(`event.${s.step}`)), s.note ? ` — ${s.note}` : '',
        stepData(s.data))));
    }

    function stepData(data) {
      if (!data || !Object.keys(data).length) return null;
      const parts = [];
      if (data.to) parts.push(h('div', null, `${t('alarm.to')}: ${data.to}`));
      if (data.findings) parts.push(h('div', null, `${t('alarm.findings')}: ${data.findings}`));
      if (data.measures) parts.push(h('div', null, `${t('alarm.measures')}: ${data.measures}`));
      for (const f of data.attachments || []) {
        parts.push(h('div', null, `${t('alarm.attachment')}: `, h('a', {href: f.url, target: '_blank', rel: 'noopener'},
          f.name), ` (${size(f.bytes || 0)})`));
      }
      return parts.length ? h('div', {class: 'data'}, parts) : null;
    }

    function size(bytes) {
      return bytes < 1000 ? `${bytes} B` : bytes < 1e6 ? `${fmtNum(bytes / 1e3, 0)} kB` : `${fmtNum(bytes / 1e6, 1)} MB`;
    }

    function forms(a) {
      // the steps possible now first; the others stay at hand (the API says why one cannot be taken)
      const mine = FORMS.filter(([step]) => mayTake(step))
        .sort(([x], [y]) => Number(a.next_steps.includes(y)) - Number(a.next_steps.includes(x)));
      if (!mine.length) return null;
      return h('section', {class: 'card'}, h('h2', null, t('alarm.actions')),
        h('div', {class: 'step-forms'}, mine.map(([step, fields]) => stepForm(a, step, fields))));
    }

    function stepForm(a, step, fields) {
      const open = a.next_steps.includes(step);
      const inputs = {};
      const error = h('div', {class: 'error-text', role: 'alert'});
      const files = step === 'record' ? h('input', {type: 'file', name: 'files', multiple: true,
        accept: 'image/*,application/pdf'}) : null;
      const button = h('button', {type: 'submit', class: open ? 'primary' : null}, t(`step.${step}`));
      const form = h('form', {class: `step-form${open ? '' : ' unavailable'}`, dataset: {step},
        onsubmit: async (event) => {
          event.preventDefault();
          error.textContent = '';
          button.disabled = true;
          try {
            const body = {};
            for (const [name, el] of Object.entries(inputs)) if (el.value.trim()) body[name] = el.value.trim();
            if (files && files.files.length) {
              body.attachments = await Promise.all([...files.files].map(async (file) => (
                {name: file.name, base64: await fileToBase64(file)})));
            }
            await ctx.api.post(`alarms/${id}/${step}`, body);
            if (!ctx.alive()) return;
            ctx.toast(t('alarm.taken', {step: t(`step.${step}`)}));
            await load();
          } catch (err) {
            if (!ctx.alive()) return;
            error.textContent = err.detail || String(err);
            button.disabled = false;
          }
        }},
      h('h3', null, t(`step.${step}`), open ? h('span', {class: 'muted'}, ` · ${t('alarm.next')}`) : null),
      fields.map(([name, key, area]) => {
        inputs[name] = h(area ? 'textarea' : 'input', {name});
        return h('label', null, t(key), inputs[name]);
      }),
      files ? h('label', null, t('alarm.files'), files) : null,
      button, error);
      return form;
    }

    function drawEvidence(el, a) {
      const series = new Map();
      for (const e of a.evidence) {
        const key = `${e.code}-${e.field}`;
        if (!series.has(key)) series.set(key, []);
        series.get(key).push([e.ts, e.value]);
      }
      const limits = a.rule ? a.rule.limits : [];
      const marks = limits.map((lim) => ({
        yAxis: lim.value, name: ctx.lang === 'en' ? lim.name_en : lim.name_zh,
        label: {formatter: `${ctx.lang === 'en' ? lim.name_en : lim.name_zh} ${lim.value}`, position: 'insideEndTop'},
        lineStyle: {color: lim.level >= 2 ? '#d92d20' : '#e6a700', type: 'dashed'},
      }));
      const values = a.evidence.map((e) => e.value).filter((v) => v !== null);
      const top = Math.max(...values, ...limits.map((lim) => lim.value));
      const chartObj = echarts.init(el);
      chartObj.setOption({
        animation: false,
        tooltip: {trigger: 'axis'},
        legend: {top: 0},
        grid: {left: 48, right: 24, top: 32, bottom: 56},
        xAxis: {type: 'time'},
        yAxis: {type: 'value', max: Math.ceil(top * 1.1)},
        dataZoom: [{type: 'inside'}, {type: 'slider', height: 18, bottom: 8}],
        series: [...series.entries()].map(([name, data], i) => ({
          name, type: 'line', data, showSymbol: data.length < 60, connectNulls: false,
          markLine: i === 0 && marks.length ? {symbol: 'none', data: marks, silent: true} : undefined,
        })),
      });
      const resize = () => chartObj.resize();
      window.addEventListener('resize', resize);
      ctx.onLeave(() => window.removeEventListener('resize', resize));
      return chartObj;
    }

    await load();
    ctx.live.on('alarm', (event) => {
      if (event.alarm_id === id && ctx.alive() && !top.contains(document.activeElement)) load().catch(() => {});
    });
    return () => { if (chart) chart.dispose(); };
  },
};
