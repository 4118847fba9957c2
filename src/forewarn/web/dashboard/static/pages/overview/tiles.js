// The overview's KPI tiles (GET /api/v1/dashboard/overview → kpis) and the map's legend.

import {h, mount} from '../../lib/dom.js';
import {addStrings, fmtNum, fmtPct, t} from '../../lib/i18n.js';

addStrings({
  zh: {
    'kpi.networking': '联网率', 'kpi.networking.hint': '{a}/{b} 个应联网站点已联网',
    'kpi.online': '在线率', 'kpi.online.hint': '{a}/{b} 台设备在线',
    'kpi.unresolved': '待处置告警', 'kpi.exceed': '今日超标', 'kpi.exceed.hint': '限值类告警（今日数据）',
    'kpi.notclosed': '未办结', 'kpi.notclosed.hint': '含已处置待关闭', 'kpi.overdue': '超期未办结',
    'kpi.overdue.hint': '超过办结时限', 'kpi.level': '{n}级 {c}',
    'state.alarm': '告警', 'state.normal': '正常', 'state.offline': '离线', 'state.maintenance': '维护',
    'state.stopped': '停产', 'state.alarm1': '一级告警', 'state.alarm2': '二级及以上告警',
  },
  en: {
    'kpi.networking': 'Networking rate', 'kpi.networking.hint': '{a} of {b} sites expected to report are connected',
    'kpi.online': 'Online rate', 'kpi.online.hint': '{a} of {b} devices online',
    'kpi.unresolved': 'Alarms to handle', 'kpi.exceed': 'Exceedances today', 'kpi.exceed.hint': 'limit alarms, today\'s data',
    'kpi.notclosed': 'Not closed', 'kpi.notclosed.hint': 'resolved ones included', 'kpi.overdue': 'Overdue',
    'kpi.overdue.hint': 'past the time to close', 'kpi.level': 'L{n} {c}',
    'state.alarm': 'Alarm', 'state.normal': 'Normal', 'state.offline': 'Offline', 'state.maintenance': 'Maintenance',
    'state.stopped': 'Stopped', 'state.alarm1': 'Level-1 alarm', 'state.alarm2': 'Level-2+ alarm',
  },
});

function tile(name, label, value, hint, extra) {
  return h('div', {class: `tile ${name}`, dataset: {kpi: name}},
    h('div', {class: 'label'}, label),
    h('div', {class: 'value'}, value),
    hint ? h('div', {class: 'hint muted'}, hint) : null,
    extra || null);
}

/** Fill `el` with the tiles of `kpis`. */
export function renderTiles(el, kpis) {
  const levels = kpis.unresolved_by_level.length
    ? h('div', {class: 'levels'}, kpis.unresolved_by_level.map((lc) =>
      h('span', {class: `badge level${Math.min(lc.level, 2)}`}, t('kpi.level', {n: lc.level, c: lc.count}))))
    : null;
  mount(el,
    tile('networking', t('kpi.networking'), fmtPct(kpis.networking_rate),
      t('kpi.networking.hint', {a: kpis.sites_networked, b: kpis.sites_expected})),
    tile('online', t('kpi.online'), fmtPct(kpis.online_rate),
      t('kpi.online.hint', {a: kpis.devices_online, b: kpis.devices_expected})),
    tile('unresolved', t('kpi.unresolved'), fmtNum(kpis.unresolved, 0), null, levels),
    tile('exceed', t('kpi.exceed'), fmtNum(kpis.exceedances_today, 0), t('kpi.exceed.hint')),
    tile('notclosed', t('kpi.notclosed'), fmtNum(kpis.not_closed, 0), t('kpi.notclosed.hint')),
    tile(`overdue${kpis.overdue ? ' warn' : ''}`, t('kpi.overdue'), fmtNum(kpis.overdue, 0), t('kpi.overdue.hint')));
}

/** The legend: each state's colour and how many sites are in it. */
export function renderLegend(el, byState) {
  mount(el, ['alarm', 'offline', 'maintenance', 'stopped', 'normal'].map((state) =>
    h('span', {class: 'legend-item', dataset: {state}},
      h('i', {class: `dot ${state === 'alarm' ? 'alarm2' : state}`}),
      `${t(`state.${state}`)} ${fmtNum(byState[state] || 0, 0)}`)));
}
