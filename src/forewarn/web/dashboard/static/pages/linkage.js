// Linkage upward (上级联网): each forwarding target of forward.toml with its link, backlog, lag,
// what it was delivered and its last error, refreshed every 5 s; for those who see the whole
// platform (GET /api/v1/forwarding). Setting targets up is docs/linkage.md's.
import {addStrings, fmtNum, fmtTime} from '../lib/i18n.js';
import {h, mount} from '../lib/dom.js';

addStrings({
  zh: {
    'link.title': '上级平台联网', 'link.help': '本平台把存储的数据转发到这些上级平台（forward.toml），每条数据在上级应答 9014 后才算送达。',
    'link.name': '目标', 'link.where': '地址', 'link.state': '连接', 'link.backlog': '待发数据', 'link.lag': '滞后',
    'link.delivered': '已送达', 'link.last': '最近发送', 'link.error': '最近错误', 'link.up': '已连接',
    'link.down': '未连接', 'link.none': '没有配置转发目标（见 docs/linkage.md）', 'link.values': '{n} 个值 / {f} 帧',
  },
  en: {
    'link.title': 'Linkage upward', 'link.help': 'This platform forwards what it stores to these targets (forward.toml); a reading counts as delivered once the target answers 9014.',
    'link.name': 'Target', 'link.where': 'Address', 'link.state': 'Link', 'link.backlog': 'Waiting', 'link.lag': 'Behind by',
    'link.delivered': 'Delivered', 'link.last': 'Last sent', 'link.error': 'Last error', 'link.up': 'connected',
    'link.down': 'not connected', 'link.none': 'No forwarding targets (see docs/linkage.md)', 'link.values': '{n} values / {f} frames',
  },
});

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 120) return `${fmtNum(seconds, 0)} s`;
  if (seconds < 7200) return `${fmtNum(seconds / 60, 0)} min`;
  return `${fmtNum(seconds / 3600, 1)} h`;
}

export default {
  title: {zh: '上级联网', en: 'Linkage'},
  async render(root, ctx) {
    const {t} = ctx;
    const body = h('tbody');
    root.append(h('section', {class: 'card'}, h('h1', null, t('link.title')), h('p', {class: 'muted'}, t('link.help')),
      h('table', {class: 'linkage'}, h('thead', null, h('tr', null, ...['link.name', 'link.where', 'link.state',
        'link.backlog', 'link.lag', 'link.delivered', 'link.last', 'link.error'].map((k) => h('th', null, t(k))))), body)));
    const load = async () => {
      const targets = await ctx.api.get('forwarding');
      if (!ctx.alive()) return;
      mount(body, targets.length ? targets.map((s) => h('tr', {dataset: {target: s.name}},
        h('td', null, s.name), h('td', null, `${s.protocol} ${s.address}`),
        h('td', null, h('span', {class: `badge ${s.connected ? 'online' : 'offline'}`}, t(s.connected ? 'link.up' : 'link.down'))),
        h('td', {class: 'num'}, fmtNum(s.backlog, 0)), h('td', null, duration(s.lag_s)),
        h('td', null, t('link.values', {n: fmtNum(s.delivered, 0), f: fmtNum(s.frames, 0)})),
        h('td', null, s.last_sent ? fmtTime(s.last_sent) : '—'),
        h('td', null, s.last_error ? `${s.last_error} (${fmtTime(s.last_error_at)})` : '—')))
        : h('tr', null, h('td', {colspan: 8, class: 'muted'}, t('link.none'))));
      root.dataset.targets = String(targets.length);
    };
    await load();
    ctx.every(5000, () => { load().catch(() => {}); });
  },
};
