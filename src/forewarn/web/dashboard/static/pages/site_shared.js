// What the site page and the playback page both show: a value against its limits (the same
// judgement as the API's limit_state in rules/limits.py), the limits as text, a state badge,
// and the page's stylesheet.
import {h} from '../lib/dom.js';
import {addStrings} from '../lib/i18n.js';

addStrings({
  zh: {'state.normal': '正常', 'state.over_limit': '超限', 'state.no_limit': '—', 'state.no_data': '无数据',
    'state.not_valid': '无效数据'},
  en: {'state.normal': 'normal', 'state.over_limit': 'over limit', 'state.no_limit': '—', 'state.no_data': 'no data',
    'state.not_valid': 'not valid'},
});

function beyond(value, op, limit) {
  if (op === '>=') return value >= limit;
  if (op === '<=') return value <= limit;
  if (op === '>') return value > limit;
  return value < limit;
}

/** [state, level]: over_limit (with the highest level beyond), normal, no_limit, no_data, not_valid. */
export function limitState(value, flag, limits) {
  if (value === null || value === undefined) return ['no_data', 0];
  if (!limits || !limits.length) return ['no_limit', 0];
  if (flag && flag !== 'N') return ['not_valid', 0];
  let level = 0;
  for (const lim of limits) if (beyond(value, lim.op, lim.value)) level = Math.max(level, lim.level);
  return level ? ['over_limit', level] : ['normal', 0];
}

/** "≥ 1 mg/m3 (地方排放限值) · ≥ 2 ..." */
export function limitsText(limits, unit, ctx) {
  if (!limits || !limits.length) return '—';
  const sign = {'>=': '≥', '<=': '≤', '>': '>', '<': '<'};
  return limits.map((lim) => `${sign[lim.op] || lim.op} ${lim.value} ${unit || ''} (${ctx.pick({zh: lim.name_zh, en: lim.name_en})})`)
    .join(' · ');
}

export function stateBadge(state, level, ctx) {
  const cls = state === 'over_limit' ? `level${Math.min(level, 2)}` : state === 'normal' ? 'normal' : 'offline';
  return h('span', {class: `badge ${cls}`, 'data-state': state}, ctx.t(`state.${state}`) + (level ? ` ${level}` : ''));
}

export function bandColour(on) {
  return on ? '#2e9d4d' : '#c4cad4';
}

let styled = false;
/** The stylesheet of the site and playback pages, added once. */
export function STYLES() {
  if (styled) return;
  styled = true;
  document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/site.css'}));
}
