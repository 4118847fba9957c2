// What the alarm desk's three pages (alarms, alarm, silences) share: their strings, the
// badges of a state and level, and their stylesheet. The words of the API's answers (a step
// refused, a field missing) are shown as the API says them: one message, whichever client.
import {h} from '../lib/dom.js';
import {addStrings} from '../lib/i18n.js';

export const STATES = ['firing', 'acknowledged', 'dispatched', 'checked', 'resolved', 'closed'];
export const DOMAINS = ['gas', 'dust', 'fume', 'power', 'dq', 'other'];
export const LEVELS = [1, 2, 3, 4];
/** Steps the API takes for many alarms at once (POST alarms/bulk). */
export const BULK_STEPS = ['ack', 'dispatch', 'resolve', 'close', 'comment'];

addStrings({
  zh: {
    'state.firing': '待确认', 'state.acknowledged': '已确认', 'state.dispatched': '已派单', 'state.checked': '已核查',
    'state.resolved': '已处置', 'state.closed': '已办结',
    'domain.gas': '燃气', 'domain.dust': '扬尘', 'domain.fume': '油烟', 'domain.power': '用电', 'domain.dq': '数据质量',
    'domain.other': '其他',
    'level.n': '{n} 级', 'flag.overdue': '超期', 'flag.escalated': '已升级', 'flag.silenced': '屏蔽中',
    'flag.backfill': '补传', 'cond.active': '仍在发生', 'cond.cleared': '已恢复',
    'step.ack': '确认', 'step.dispatch': '派单', 'step.record': '现场核查', 'step.resolve': '处置完成',
    'step.close': '办结', 'step.comment': '备注',
    'event.fired': '触发', 'event.escalated': '升级', 'event.cleared': '恢复正常', 'event.recurred': '再次发生',
    'event.reopened': '处置后再次发生', 'event.repeated': '重复', 'event.acknowledged': '确认', 'event.dispatched': '派单',
    'event.checked': '现场核查', 'event.resolved': '处置完成', 'event.closed': '办结', 'event.commented': '备注',
    'event.overdue': '超期',
    'f.state': '状态', 'f.open': '未办结', 'f.level': '级别', 'f.domain': '类别', 'f.region': '区域', 'f.site': '站点',
    'f.from': '首次发生自', 'f.to': '至', 'f.apply': '查询', 'f.reset': '清除',
    'col.id': '编号', 'col.level': '级别', 'col.state': '状态', 'col.domain': '类别', 'col.where': '企业 / 站点',
    'col.what': '告警', 'col.first': '首次发生', 'col.assignee': '处置人',
    'desk.title': '告警处置', 'desk.selected': '已选 {n} 条', 'desk.select_all': '全选本页',
    'desk.bulk': '批量处理', 'desk.bulk_step': '操作', 'desk.note': '说明', 'desk.to': '派给',
    'desk.apply': '对所选执行', 'desk.done': '{done} 条已处理，{failed} 条未处理',
    'desk.empty': '没有符合条件的告警', 'desk.new': '有新的告警动态，已刷新',
    'desk.group': '第 {id} 批告警（同一原因引起，可全选后一起处置）', 'desk.group_flag': '同批 {id}',
    'desk.group_title': '同一原因引起的一批告警：点击查看并一起处置',
    'silences.title': '维护屏蔽', 'silences.add': '新增屏蔽', 'silences.mn': '设备 MN', 'silences.site': '站点',
    'silences.target': '屏蔽对象', 'silences.device': '一台设备', 'silences.whole_site': '整个站点',
    'silences.rule': '仅此规则（可空）', 'silences.from': '开始（空为现在）', 'silences.until': '结束',
    'silences.note': '原因', 'silences.end': '立即结束', 'silences.ended': '屏蔽 {id} 已结束',
    'silences.made': '已新增屏蔽 {id}', 'silences.empty': '没有进行中或待开始的屏蔽', 'silences.by': '设置人',
    'silences.help': '屏蔽期间告警照常记录，但不通知。', 'silences.all_rules': '全部规则',
  },
  en: {
    'state.firing': 'Firing', 'state.acknowledged': 'Acknowledged', 'state.dispatched': 'Dispatched',
    'state.checked': 'Checked on site', 'state.resolved': 'Resolved', 'state.closed': 'Closed',
    'domain.gas': 'Gas', 'domain.dust': 'Dust', 'domain.fume': 'Oil fume', 'domain.power': 'Electricity',
    'domain.dq': 'Data quality', 'domain.other': 'Other',
    'level.n': 'Level {n}', 'flag.overdue': 'Overdue', 'flag.escalated': 'Escalated', 'flag.silenced': 'Silenced',
    'flag.backfill': 'Backfilled', 'cond.active': 'Still active', 'cond.cleared': 'Back to normal',
    'step.ack': 'Acknowledge', 'step.dispatch': 'Dispatch', 'step.record': 'On-site check', 'step.resolve': 'Resolve',
    'step.close': 'Close', 'step.comment': 'Comment',
    'event.fired': 'Fired', 'event.escalated': 'Escalated', 'event.cleared': 'Back to normal', 'event.recurred': 'Recurred',
    'event.reopened': 'Reopened', 'event.repeated': 'Repeated', 'event.acknowledged': 'Acknowledged',
    'event.dispatched': 'Dispatched', 'event.checked': 'Checked on site', 'event.resolved': 'Resolved',
    'event.closed': 'Closed', 'event.commented': 'Comment', 'event.overdue': 'Overdue',
    'f.state': 'State', 'f.open': 'Not closed', 'f.level': 'Level', 'f.domain': 'Domain', 'f.region': 'Region',
    'f.site': 'Site', 'f.from': 'First seen from', 'f.to': 'to', 'f.apply': 'Search', 'f.reset': 'Clear',
    'col.id': 'No.', 'col.level': 'Level', 'col.state': 'State', 'col.domain': 'Domain', 'col.where': 'Enterprise / site',
    'col.what': 'Alarm', 'col.first': 'First seen', 'col.assignee': 'Assignee',
    'desk.title': 'Alarm desk', 'desk.selected': '{n} selected', 'desk.select_all': 'Select this page',
    'desk.bulk': 'Handle in bulk', 'desk.bulk_step': 'Step', 'desk.note': 'Note', 'desk.to': 'Send to',
    'desk.apply': 'Apply to selected', 'desk.done': '{done} handled, {failed} not',
    'desk.empty': 'No alarms match', 'desk.new': 'Alarm activity: list refreshed',
    'desk.group': 'Storm {id}: alarms of one cause (select all and handle them together)', 'desk.group_flag': 'storm {id}',
    'desk.group_title': 'Alarms of one cause: open them to handle them together',
    'silences.title': 'Maintenance silences', 'silences.add': 'Add a silence', 'silences.mn': 'Device MN',
    'silences.site': 'Site', 'silences.target': 'Silence', 'silences.device': 'one device',
    'silences.whole_site': 'a whole site', 'silences.rule': 'Only this rule (optional)',
    'silences.from': 'From (empty: now)', 'silences.until': 'Until', 'silences.note': 'Reason',
    'silences.end': 'End now', 'silences.ended': 'Silence {id} ended', 'silences.made': 'Silence {id} added',
    'silences.empty': 'No silence running or to come', 'silences.by': 'Set by',
    'silences.help': 'During a silence alarms are recorded as usual, but not announced.',
    'silences.all_rules': 'every rule',
  },
});

let styled = false;
/** The desk's stylesheet, added once. */
export function useDeskStyles() {
  if (styled) return;
  styled = true;
  document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/alarm_desk.css'}));
}

export function levelBadge(t, level) {
  return h('span', {class: `badge level${Math.min(level, 2)} lv${level}`}, t('level.n', {n: level}));
}

export function stateBadge(t, state) {
  return h('span', {class: `badge st-${state}`, dataset: {state}}, t(`state.${state}`));
}

/** The flags that make an alarm stand out (overdue, escalated) and the quiet ones. */
export function flags(t, alarm) {
  return [
    alarm.overdue ? h('span', {class: 'flag overdue'}, t('flag.overdue')) : null,
    alarm.escalated ? h('span', {class: 'flag escalated'}, t('flag.escalated')) : null,
    alarm.silenced ? h('span', {class: 'flag quiet'}, t('flag.silenced')) : null,
    alarm.live === false ? h('span', {class: 'flag quiet'}, t('flag.backfill')) : null,
  ];
}
