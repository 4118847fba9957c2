// Chinese by default, English by a switch that is remembered (localStorage).
// Each page registers its own strings with addStrings({zh: {...}, en: {...}}).

const STORE_KEY = 'forewarn.lang';
const strings = {zh: {}, en: {}};
let lang = localStorage.getItem(STORE_KEY) === 'en' ? 'en' : 'zh';

export const LANGS = ['zh', 'en'];

export function addStrings(table) {
  for (const l of LANGS) Object.assign(strings[l], table[l] || {});
}

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  localStorage.setItem(STORE_KEY, lang);
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

/** The string `key` in the current language, with {name} placeholders filled from `vars`.
 *  A missing key shows itself (so a gap is visible, never blank). */
export function t(key, vars) {
  let text = strings[lang][key] ?? strings.zh[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{${k}}`, String(v));
  return text;
}

/** Pick from a {zh, en} pair (titles, texts the API answers in both languages). */
export function pick(pair) {
  if (pair === null || pair === undefined) return '';
  if (typeof pair === 'string') return pair;
  return pair[lang] ?? pair.zh ?? '';
}

/** A time (ms or ISO) as local date and time in the user's language. */
export function fmtTime(value, withSeconds = true) {
  if (value === null || value === undefined || value === '') return '—';
  const d = typeof value === 'number' ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    second: withSeconds ? '2-digit' : undefined, hour12: false,
  });
}

/** A number with at most `digits` decimals, or a dash. */
export function fmtNum(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return Number(value).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', {maximumFractionDigits: digits});
}

/** A rate 0..1 as a percentage. */
export function fmtPct(value, digits = 1) {
  if (value === null || value === undefined) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

addStrings({
  zh: {
    'nav.overview': '总览', 'nav.alarms': '告警', 'nav.silences': '屏蔽', 'nav.playback': '回放',
    'nav.registry': '档案', 'nav.screening': '可疑数据', 'nav.statistics': '统计', 'nav.linkage': '上级联网', 'nav.screen': '大屏', 'app.logout': '退出', 'app.lang': 'English',
    'app.loading': '加载中…', 'app.error': '出错了', 'app.notfound': '页面不存在',
    'app.retry': '重试', 'app.offline': '实时连接已断开，正在重连…', 'app.live': '实时',
    'login.title': '登录 forewarn 监测预警平台', 'login.name': '用户名', 'login.password': '密码',
    'login.submit': '登录', 'login.failed': '登录失败',
    'login.screen': '大屏专用：只读，30 天内无需再次登录',
    'login.cookie': '浏览器没有保存会话 Cookie：请通过 https 访问，或让管理员设置 cookie_secure = 0（仅限内网 http）。',
    'role.city_admin': '市级管理员', 'role.district_admin': '区县管理员', 'role.enterprise_user': '企业用户',
    'role.auditor': '审计员', 'role.device': '设备',
    'common.save': '保存', 'common.cancel': '取消', 'common.search': '查询', 'common.all': '全部',
    'common.prev': '上一页', 'common.next': '下一页', 'common.none': '暂无', 'common.total': '共 {n} 条',
  },
  en: {
    'nav.overview': 'Overview', 'nav.alarms': 'Alarms', 'nav.silences': 'Silences', 'nav.playback': 'Playback',
    'nav.registry': 'Registry', 'nav.screening': 'Doubtful data', 'nav.statistics': 'Statistics', 'nav.linkage': 'Linkage', 'nav.screen': 'Big screen', 'app.logout': 'Log out', 'app.lang': '中文',
    'app.loading': 'Loading…', 'app.error': 'Something went wrong', 'app.notfound': 'No such page',
    'app.retry': 'Retry', 'app.offline': 'Live connection lost, reconnecting…', 'app.live': 'Live',
    'login.title': 'Log in to forewarn', 'login.name': 'User name', 'login.password': 'Password',
    'login.submit': 'Log in', 'login.failed': 'Login failed',
    'login.screen': 'For a control-room screen: read-only, stays logged in for 30 days',
    'login.cookie': 'The browser did not keep the session cookie: open the dashboard over https, or have the administrator set cookie_secure = 0 (plain http on an intranet only).',
    'role.city_admin': 'City administrator', 'role.district_admin': 'District administrator',
    'role.enterprise_user': 'Enterprise user', 'role.auditor': 'Auditor', 'role.device': 'Device',
    'common.save': 'Save', 'common.cancel': 'Cancel', 'common.search': 'Search', 'common.all': 'All',
    'common.prev': 'Previous', 'common.next': 'Next', 'common.none': 'None', 'common.total': '{n} in all',
  },
});
