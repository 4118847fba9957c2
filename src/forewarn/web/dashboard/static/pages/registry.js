// The registry for city and district administrators, within their reach: sites (with the
// lifecycle the environment bureau manages: each status change with its date and reason),
// devices (create, change, retire), points, the upload of a registry sheet with the import's
// findings shown row by row, and quarantined MNs with their claim (city administrators).
// Every rule lives in the API (registry.edit, registry.lifecycle, registry.imports): this
// page only asks and shows the API's words.
import {h, mount, select} from '../lib/dom.js';
import {addStrings, fmtTime} from '../lib/i18n.js';

const PAGE = 50;
const STATUSES = ['new', 'active', 'maintenance', 'stopped', 'retired'];
const SITE_TYPES = ['lpg_station', 'gas_gate_station', 'lng_gasification_station', 'cng_lng_filling_station',
  'factory', 'construction_site', 'restaurant'];
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

addStrings({
  zh: {
    'reg.sites': '站点', 'reg.devices': '设备', 'reg.points': '监测点', 'reg.upload': '导入台账',
    'reg.quarantine': '未登记设备',
    'reg.help': '您可管理的范围：{reach}。超出范围的数据不会显示。', 'reg.reach_all': '全市',
    'reg.region': '行政区划', 'reg.site_type': '站点类型', 'reg.status': '状态', 'reg.online': '在线',
    'reg.online_yes': '在线', 'reg.online_no': '离线', 'reg.name': '名称', 'reg.enterprise': '企业',
    'reg.devices_n': '设备数', 'reg.actions': '操作', 'reg.lifecycle': '状态变更',
    'reg.mn': 'MN', 'reg.site': '站点', 'reg.protocol': '协议', 'reg.interval': '上报间隔(秒)',
    'reg.kind': '设备类型', 'reg.leniency': '容错', 'reg.password': '密码', 'reg.password_keep': '留空则不修改',
    'reg.quirks': '协议偏差', 'reg.quirks_tip': '已容忍的 HJ 212 偏差（次数）：\n{list}',
    'reg.quirks_none': '无', 'reg.strict': '严格', 'reg.strict_tip': '此设备按标准严格校验：只接受其容错设置列出的偏差',
    'reg.last_seen': '最后通讯', 'reg.edit': '编辑', 'reg.retire': '停用', 'reg.add_device': '新增设备',
    'reg.create': '创建', 'reg.created': '已创建设备 {mn}', 'reg.saved': '已保存', 'reg.retired': '已停用 {mn}',
    'reg.code': '因子编码', 'reg.field': '子字段', 'reg.quantity': '物理量', 'reg.unit': '单位',
    'reg.lower': '下限', 'reg.upper': '上限', 'reg.discovered': '自动发现', 'reg.yes': '是', 'reg.no': '否',
    'reg.since': '自 {since} 起', 'reg.new_status': '新状态', 'reg.effective': '生效日期', 'reg.reason': '原因',
    'reg.change': '变更状态', 'reg.changed': '站点 {site} 已变更为 {status}', 'reg.history': '变更记录',
    'reg.previous': '原状态', 'reg.by': '操作人', 'reg.origin': '来源', 'reg.recorded': '记录时间',
    'reg.close': '关闭', 'reg.file': '台账文件（CSV 或 XLSX）', 'reg.import': '导入',
    'reg.upload_help': '设备、监测点或行政区划表均可；重复导入只更新不重复。所有问题一次列出，全部改正前不导入任何数据。',
    'reg.findings': '发现 {n} 个问题，未导入任何数据：', 'reg.f_file': '文件', 'reg.f_row': '行',
    'reg.f_column': '列', 'reg.f_message': '问题',
    'reg.imported': '已导入：{regions} 个区划、{enterprises} 个企业、{sites} 个站点、新增 {added} 台设备、更新 {updated} 台、新增 {padded} 个监测点、更新 {pupdated} 个',
    'reg.first_seen': '首次出现', 'reg.packets': '报文数', 'reg.peer': '来源地址', 'reg.refused': '拒收原因',
    'reg.claim': '认领', 'reg.claimed': 'MN {mn} 已登记：{stored} 条报文已入库，{refused} 条仍被拒收',
    'reg.quarantine_help': '向平台发送数据但尚未登记的 MN。认领即登记到站点，其隔离报文按实时数据判定入库。',
    'reg.none': '暂无', 'reg.page': '第 {from}–{to} 条，共 {total} 条', 'reg.no_sites': '您的范围内还没有站点',
    'status.new': '新建', 'status.active': '运行', 'status.maintenance': '维护', 'status.stopped': '停产',
    'status.retired': '注销',
    'type.lpg_station': '液化石油气储配站', 'type.gas_gate_station': '门站', 'type.lng_gasification_station': 'LNG 气化站',
    'type.cng_lng_filling_station': '加气站', 'type.factory': '工厂', 'type.construction_site': '建筑工地',
    'type.restaurant': '餐饮',
  },
  en: {
    'reg.sites': 'Sites', 'reg.devices': 'Devices', 'reg.points': 'Points', 'reg.upload': 'Import a sheet',
    'reg.quarantine': 'Unregistered MNs',
    'reg.help': 'Your reach: {reach}. Nothing outside it is shown.', 'reg.reach_all': 'the whole city',
    'reg.region': 'Region', 'reg.site_type': 'Site type', 'reg.status': 'Status', 'reg.online': 'Online',
    'reg.online_yes': 'online', 'reg.online_no': 'offline', 'reg.name': 'Name', 'reg.enterprise': 'Enterprise',
    'reg.devices_n': 'Devices', 'reg.actions': 'Actions', 'reg.lifecycle': 'Change status',
    'reg.mn': 'MN', 'reg.site': 'Site', 'reg.protocol': 'Protocol', 'reg.interval': 'Interval (s)',
    'reg.kind': 'Device kind', 'reg.leniency': 'Leniency', 'reg.password': 'Password',
    'reg.quirks': 'Deviations', 'reg.quirks_tip': 'HJ 212 deviations tolerated (times):\n{list}',
    'reg.quirks_none': 'none', 'reg.strict': 'strict',
    'reg.strict_tip': 'Checked strictly: only the deviations its leniency lists are accepted',
    'reg.password_keep': 'empty: unchanged',
    'reg.last_seen': 'Last contact', 'reg.edit': 'Edit', 'reg.retire': 'Retire', 'reg.add_device': 'Add a device',
    'reg.create': 'Create', 'reg.created': 'Device {mn} created', 'reg.saved': 'Saved', 'reg.retired': '{mn} retired',
    'reg.code': 'Code', 'reg.field': 'Field', 'reg.quantity': 'Quantity', 'reg.unit': 'Unit',
    'reg.lower': 'Lower', 'reg.upper': 'Upper', 'reg.discovered': 'Discovered', 'reg.yes': 'yes', 'reg.no': 'no',
    'reg.since': 'since {since}', 'reg.new_status': 'New status', 'reg.effective': 'Effective date',
    'reg.reason': 'Reason', 'reg.change': 'Change status', 'reg.changed': 'Site {site} is now {status}',
    'reg.history': 'History', 'reg.previous': 'Previous', 'reg.by': 'By', 'reg.origin': 'From',
    'reg.recorded': 'Recorded', 'reg.close': 'Close', 'reg.file': 'Registry sheet (CSV or XLSX)',
    'reg.import': 'Import',
    'reg.upload_help': 'A devices, points or regions sheet; re-importing updates, never duplicates. Every problem is listed at once, and nothing is imported until all are fixed.',
    'reg.findings': '{n} problem(s) found, nothing imported:', 'reg.f_file': 'File', 'reg.f_row': 'Row',
    'reg.f_column': 'Column', 'reg.f_message': 'Problem',
    'reg.imported': 'Imported: {regions} regions, {enterprises} enterprises, {sites} sites, {added} devices added, {updated} updated, {padded} points added, {pupdated} updated',
    'reg.first_seen': 'First seen', 'reg.packets': 'Packets', 'reg.peer': 'Last address', 'reg.refused': 'Refused because',
    'reg.claim': 'Claim', 'reg.claimed': 'MN {mn} registered: {stored} packets stored, {refused} still refused',
    'reg.quarantine_help': 'MNs that send to the platform but are not registered. Claiming one registers it at a site; its quarantined packets are judged as live ones and stored.',
    'reg.none': 'none', 'reg.page': '{from}–{to} of {total}', 'reg.no_sites': 'No sites in your reach yet',
    'status.new': 'new', 'status.active': 'active', 'status.maintenance': 'maintenance', 'status.stopped': 'stopped',
    'status.retired': 'retired',
    'type.lpg_station': 'LPG station', 'type.gas_gate_station': 'Gas gate station',
    'type.lng_gasification_station': 'LNG gasification', 'type.cng_lng_filling_station': 'CNG/LNG filling',
    'type.factory': 'Factory', 'type.construction_site': 'Construction site', 'type.restaurant': 'Restaurant',
  },
});

let styled = false;
function useStyles() {
  if (styled) return;
  styled = true;
  document.head.append(h('link', {rel: 'stylesheet', href: '/static/pages/registry.css'}));
}

function today() {
  const d = new Date();
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export default {
  title: {zh: '档案管理', en: 'Registry'},
  async render(root, ctx) {
    useStyles();
    const {t} = ctx;
    const mayClaim = ctx.may('claim_devices');
    const tabs = [['sites', t('reg.sites')], ['devices', t('reg.devices')], ['points', t('reg.points')],
      ['upload', t('reg.upload')]];
    if (mayClaim) tabs.push(['quarantine', t('reg.quarantine')]);
    const wanted = ctx.query.get('tab');
    const tab = tabs.some(([key]) => key === wanted) ? wanted : 'sites';
    const reach = ctx.user.region_code || t('reg.reach_all');

    root.append(h('section', {class: 'card registry'},
      h('h1', null, ctx.pick(this.title)),
      h('p', {class: 'muted'}, t('reg.help', {reach})),
      h('nav', {class: 'reg-tabs', role: 'tablist'}, tabs.map(([key, label]) => h('a', {
        href: `/registry?tab=${key}`, role: 'tab', class: key === tab ? 'active' : null,
        'aria-selected': key === tab ? 'true' : 'false', dataset: {tab: key},
      }, label)))));
    const body = h('div', {class: 'reg-body'});
    root.append(body);
    const views = {sites: sitesView, devices: devicesView, points: pointsView, upload: uploadView,
      quarantine: quarantineView};
    await views[tab](body, ctx);
  },
};

// ------------------------------------------------------------------ shared pieces

function statusBadge(ctx, status) {
  return h('span', {class: `badge ${status}`, dataset: {status}}, ctx.t(`status.${status}`));
}

function onlineBadge(ctx, online) {
  return h('span', {class: `badge ${online ? 'online' : 'offline'}`},
    ctx.t(online ? 'reg.online_yes' : 'reg.online_no'));
}

// The known HJ 212 deviations tolerated from a device: a count with the list as its tooltip,
// and 'strict' when its leniency says so (the API's quirks_tolerated: 'crc_lowercase=12|qn_format=3').
function quirksCell(ctx, d) {
  const cell = h('td', {class: 'quirks'});
  const uses = (d.quirks_tolerated || '').split('|').filter(Boolean).map((p) => p.split('='));
  if (uses.length) {
    const total = uses.reduce((n, [, c]) => n + Number(c), 0);
    cell.append(h('span', {class: 'badge maintenance', title: ctx.t('reg.quirks_tip',
      {list: uses.map(([q, c]) => `${q} ×${c}`).join('\n')})}, String(total)));
  } else {
    cell.append(ctx.t('reg.quirks_none'));
  }
  if ((d.leniency || '').split('|').includes('strict')) {
    cell.append(' ', h('span', {class: 'badge', title: ctx.t('reg.strict_tip')}, ctx.t('reg.strict')));
  }
  return cell;
}

function table(headers, tbody) {
  return h('div', {class: 'reg-scroll'}, h('table', {class: 'reg-table'},
    h('thead', null, h('tr', null, headers.map((text) => h('th', null, text)))), tbody));
}

/** A filtered, paged list: `fetch(offset)` answers an API page; `row(item)` draws one. */
function pagedList(ctx, container, headers, fetch, row) {
  const tbody = h('tbody');
  const info = h('span', {class: 'muted reg-pageinfo'});
  const prev = h('button', {type: 'button'}, ctx.t('common.prev'));
  const next = h('button', {type: 'button'}, ctx.t('common.next'));
  const error = h('div', {class: 'error-text', role: 'alert'});
  let offset = 0;
  async function load(at = offset) {
    error.textContent = '';
    try {
      const page = await fetch(at);
      if (!ctx.alive()) return;
      offset = at;
      mount(tbody, page.items.length ? page.items.map(row)
        : h('tr', null, h('td', {colspan: headers.length, class: 'muted'}, ctx.t('reg.none'))));
      info.textContent = ctx.t('reg.page', {from: page.total ? offset + 1 : 0,
        to: offset + page.items.length, total: page.total});
      prev.disabled = offset === 0;
      next.disabled = !page.next;
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }
  prev.addEventListener('click', () => load(Math.max(0, offset - PAGE)));
  next.addEventListener('click', () => load(offset + PAGE));
  container.append(table(headers, tbody), h('div', {class: 'reg-pager'}, prev, info, next), error);
  return {load, reload: () => load(offset)};
}

async function allSites(ctx) {
  const page = await ctx.api.get('sites', {limit: 1000}).catch(() => ({items: []}));
  return page.items;
}

// ------------------------------------------------------------------ sites and their lifecycle

async function sitesView(body, ctx) {
  const {t} = ctx;
  const region = h('input', {name: 'region', placeholder: '451202', size: 8});
  const type = select({name: 'site_type'}, [['', t('common.all')], ...SITE_TYPES.map((k) => [k, t(`type.${k}`)])]);
  const status = select({name: 'status'}, [['', t('common.all')], ...STATUSES.map((s) => [s, t(`status.${s}`)])]);
  const online = select({name: 'online'}, [['', t('common.all')], ['true', t('reg.online_yes')],
    ['false', t('reg.online_no')]]);
  const panel = h('div', {class: 'reg-panel'});
  const card = h('section', {class: 'card'});
  const list = pagedList(ctx, card, [t('reg.name'), t('reg.enterprise'), t('reg.site_type'), t('reg.region'),
    t('reg.status'), t('reg.devices_n'), t('reg.online'), t('reg.actions')],
  (offset) => ctx.api.get('sites', {region: region.value.trim(), site_type: type.value, status: status.value,
    online: online.value, limit: PAGE, offset}),
  (s) => h('tr', {dataset: {site: s.id}},
    h('td', null, h('a', {href: `/sites/${s.id}`}, s.name)), h('td', null, s.enterprise),
    h('td', null, t(`type.${s.site_type}`)), h('td', null, s.region_name || s.region_code || '—'),
    h('td', null, statusBadge(ctx, s.status)), h('td', null, s.devices), h('td', null, onlineBadge(ctx, s.online)),
    h('td', null, h('button', {type: 'button', class: 'reg-lifecycle',
      onclick: () => lifecycle(ctx, panel, s, list.reload)}, t('reg.lifecycle')))));
  const filters = h('form', {class: 'filters', onsubmit: (e) => { e.preventDefault(); list.load(0); }},
    h('label', null, t('reg.region'), region), h('label', null, t('reg.site_type'), type),
    h('label', null, t('reg.status'), status), h('label', null, t('reg.online'), online),
    h('button', {type: 'submit', class: 'primary'}, t('common.search')));
  card.prepend(filters);
  body.append(panel, card);
  await list.load(0);
}

async function lifecycle(ctx, panel, site, reload) {
  const {t} = ctx;
  let state;
  try {
    state = await ctx.api.get(`sites/${site.id}/lifecycle`);
  } catch (err) {
    ctx.toast(err.detail || String(err), 'error');
    return;
  }
  if (!ctx.alive()) return;
  const next = select({name: 'status'}, state.allowed.map((s) => [s, t(`status.${s}`)]), state.allowed[0]);
  const date = h('input', {type: 'date', name: 'effective', value: today(), max: today()});
  const reason = h('textarea', {name: 'reason', rows: 2, maxlength: 500, required: true});
  const error = h('div', {class: 'error-text', role: 'alert'});
  const history = h('tbody', null, state.changes.map((c) => h('tr', null,
    h('td', null, fmtTime(c.effective, false)), h('td', null, c.previous ? t(`status.${c.previous}`) : '—'),
    h('td', null, statusBadge(ctx, c.status)), h('td', null, c.reason), h('td', null, c.actor),
    h('td', null, c.origin), h('td', null, fmtTime(c.at, false)))));
  const form = h('form', {class: 'filters reg-lifecycle-form', onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = '';
    // today's date means "now": a site registered this morning cannot have changed at midnight
    const json = {status: next.value, reason: reason.value};
    if (date.value && date.value !== today()) json.effective = date.value;
    try {
      await ctx.api.post(`sites/${site.id}/lifecycle`, json);
      ctx.toast(t('reg.changed', {site: site.name, status: t(`status.${next.value}`)}));
      await reload();
      await lifecycle(ctx, panel, site, reload);
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }},
  h('label', null, t('reg.new_status'), next), h('label', null, t('reg.effective'), date),
  h('label', {class: 'grow'}, t('reg.reason'), reason),
  h('button', {type: 'submit', class: 'primary'}, t('reg.change')));
  mount(panel, h('section', {class: 'card reg-site', dataset: {site: site.id}},
    h('div', {class: 'row'}, h('h2', {class: 'grow'}, `${site.enterprise} · ${site.name} `,
      statusBadge(ctx, state.status), ' ', h('span', {class: 'muted'},
        state.since ? t('reg.since', {since: fmtTime(state.since, false)}) : '')),
    h('button', {type: 'button', onclick: () => panel.replaceChildren()}, t('reg.close'))),
    state.allowed.length ? form : null, error,
    h('h3', null, t('reg.history')),
    table([t('reg.effective'), t('reg.previous'), t('reg.status'), t('reg.reason'), t('reg.by'), t('reg.origin'),
      t('reg.recorded')], history)));
  panel.scrollIntoView({block: 'nearest'});
}

// ------------------------------------------------------------------ devices

async function devicesView(body, ctx) {
  const {t} = ctx;
  const mn = h('input', {name: 'mn', placeholder: 'MN'});
  const status = select({name: 'status'}, [['', t('common.all')], ['active', t('status.active')],
    ['retired', t('status.retired')]]);
  const online = select({name: 'online'}, [['', t('common.all')], ['true', t('reg.online_yes')],
    ['false', t('reg.online_no')]]);
  const panel = h('div', {class: 'reg-panel'});
  const card = h('section', {class: 'card'});
  const list = pagedList(ctx, card, [t('reg.mn'), t('reg.site'), t('reg.enterprise'), t('reg.interval'),
    t('reg.kind'), t('reg.status'), t('reg.last_seen'), t('reg.online'), t('reg.quirks'), t('reg.actions')],
  (offset) => ctx.api.get('devices', {mn: mn.value.trim(), status: status.value, online: online.value,
    limit: PAGE, offset}),
  (d) => h('tr', {dataset: {mn: d.mn}},
    h('td', {class: 'mono'}, d.mn), h('td', null, h('a', {href: `/sites/${d.site_id}`}, d.site)),
    h('td', null, d.enterprise), h('td', null, d.interval_s), h('td', null, d.device_kind || '—'),
    h('td', null, statusBadge(ctx, d.status)), h('td', null, fmtTime(d.last_seen_ms)),
    h('td', null, onlineBadge(ctx, d.online)), quirksCell(ctx, d),
    h('td', null, h('button', {type: 'button', onclick: () => editDevice(ctx, panel, d, list.reload)},
      t('reg.edit')))));
  card.prepend(h('form', {class: 'filters', onsubmit: (e) => { e.preventDefault(); list.load(0); }},
    h('label', null, t('reg.mn'), mn), h('label', null, t('reg.status'), status),
    h('label', null, t('reg.online'), online), h('button', {type: 'submit', class: 'primary'}, t('common.search'))));
  body.append(panel, card);
  const sites = await allSites(ctx);
  if (!ctx.alive()) return;
  body.append(createDevice(ctx, sites, list.reload));
  await list.load(0);
}

function deviceFields(ctx, d) {
  const {t} = ctx;
  return {
    interval_s: h('input', {type: 'number', name: 'interval_s', min: 1, value: d ? d.interval_s : 60}),
    device_kind: h('input', {name: 'device_kind', value: d ? d.device_kind : ''}),
    leniency: h('input', {name: 'leniency', value: d ? d.leniency : '', placeholder: 'strict|crc_modbus|...'}),
    password: h('input', {name: 'password', type: 'text', autocomplete: 'off',
      placeholder: d ? t('reg.password_keep') : ''}),
  };
}

function createDevice(ctx, sites, reload) {
  const {t} = ctx;
  const site = select({name: 'site_id'}, sites.map((s) => [s.id, `${s.enterprise} · ${s.name}`]));
  const mn = h('input', {name: 'mn', required: true, placeholder: '451202...'});
  const f = deviceFields(ctx, null);
  const error = h('div', {class: 'error-text', role: 'alert'});
  const form = h('form', {class: 'filters reg-create-device', onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = '';
    const json = {site_id: Number(site.value), mn: mn.value.trim(), interval_s: Number(f.interval_s.value)};
    for (const key of ['device_kind', 'leniency', 'password']) if (f[key].value) json[key] = f[key].value;
    try {
      const made = await ctx.api.post('devices', json);
      ctx.toast(t('reg.created', {mn: made.mn}));
      mn.value = '';
      f.password.value = '';
      await reload();
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }},
  h('label', null, t('reg.site'), site), h('label', null, t('reg.mn'), mn),
  h('label', null, t('reg.password'), f.password), h('label', null, t('reg.interval'), f.interval_s),
  h('label', null, t('reg.kind'), f.device_kind), h('label', null, t('reg.leniency'), f.leniency),
  h('button', {type: 'submit', class: 'primary', disabled: !sites.length}, t('reg.create')));
  return h('section', {class: 'card'}, h('h2', null, t('reg.add_device')),
    sites.length ? form : h('p', {class: 'muted'}, t('reg.no_sites')), error);
}

function editDevice(ctx, panel, d, reload) {
  const {t} = ctx;
  const f = deviceFields(ctx, d);
  const error = h('div', {class: 'error-text', role: 'alert'});
  const save = h('form', {class: 'filters', onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = '';
    const json = {interval_s: Number(f.interval_s.value), device_kind: f.device_kind.value, leniency: f.leniency.value};
    if (f.password.value) json.password = f.password.value;
    if (!json.device_kind) delete json.device_kind;
    try {
      await ctx.api.patch(`devices/${d.id}`, json);
      ctx.toast(t('reg.saved'));
      panel.replaceChildren();
      await reload();
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }},
  h('label', null, t('reg.interval'), f.interval_s), h('label', null, t('reg.kind'), f.device_kind),
  h('label', null, t('reg.leniency'), f.leniency), h('label', null, t('reg.password'), f.password),
  h('button', {type: 'submit', class: 'primary'}, t('common.save')),
  d.status === 'active' ? h('button', {type: 'button', class: 'danger', onclick: async () => {
    try {
      await ctx.api.del(`devices/${d.id}`);
      ctx.toast(t('reg.retired', {mn: d.mn}));
      panel.replaceChildren();
      await reload();
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }}, t('reg.retire')) : null,
  h('button', {type: 'button', onclick: () => panel.replaceChildren()}, t('common.cancel')));
  mount(panel, h('section', {class: 'card'}, h('h2', {class: 'mono'}, `${d.mn} · ${d.site}`), save, error));
}

// ------------------------------------------------------------------ points

async function pointsView(body, ctx) {
  const {t} = ctx;
  const mn = h('input', {name: 'mn', placeholder: 'MN'});
  const discovered = select({name: 'discovered'}, [['', t('common.all')], ['true', t('reg.yes')],
    ['false', t('reg.no')]]);
  const card = h('section', {class: 'card'});
  const list = pagedList(ctx, card, [t('reg.mn'), t('reg.code'), t('reg.field'), t('reg.name'), t('reg.quantity'),
    t('reg.unit'), t('reg.lower'), t('reg.upper'), t('reg.discovered'), t('reg.status')],
  (offset) => ctx.api.get('points', {mn: mn.value.trim(), discovered: discovered.value, limit: PAGE, offset}),
  (p) => h('tr', null, h('td', {class: 'mono'}, p.mn), h('td', {class: 'mono'}, p.code),
    h('td', {class: 'mono'}, p.field), h('td', null, p.name), h('td', null, p.quantity), h('td', null, p.unit),
    h('td', null, p.lower ?? '—'), h('td', null, p.upper ?? '—'),
    h('td', null, t(p.discovered ? 'reg.yes' : 'reg.no')), h('td', null, statusBadge(ctx, p.status))));
  card.prepend(h('form', {class: 'filters', onsubmit: (e) => { e.preventDefault(); list.load(0); }},
    h('label', null, t('reg.mn'), mn), h('label', null, t('reg.discovered'), discovered),
    h('button', {type: 'submit', class: 'primary'}, t('common.search'))));
  body.append(card);
  await list.load(0);
}

// ------------------------------------------------------------------ upload

function uploadView(body, ctx) {
  const {t} = ctx;
  const file = h('input', {type: 'file', name: 'sheet', accept: '.csv,.xlsx', required: true});
  const result = h('div', {class: 'reg-result'});
  const button = h('button', {type: 'submit', class: 'primary'}, t('reg.import'));
  const form = h('form', {class: 'filters reg-upload', onsubmit: async (event) => {
    event.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    result.replaceChildren();
    // the browser's idea of a CSV's type varies (Excel on Windows says vnd.ms-excel): the name decides
    const type = /\.xlsx$/i.test(chosen.name) ? XLSX : 'text/csv';
    button.disabled = true;
    try {
      const answer = await ctx.api.upload('registry/import', new File([chosen], chosen.name, {type}),
        {filename: chosen.name});
      const n = answer.imported;
      mount(result, h('p', {class: 'reg-imported'}, t('reg.imported', {regions: n.regions,
        enterprises: n.enterprises, sites: n.sites, added: n.devices_added, updated: n.devices_updated,
        padded: n.points_added, pupdated: n.points_updated})), h('p', {class: 'muted'}, answer.note));
    } catch (err) {
      const findings = (err.body && err.body.findings) || [];
      if (!findings.length) {
        mount(result, h('p', {class: 'error-text', role: 'alert'}, err.detail || String(err)));
      } else {
        mount(result, h('p', {class: 'error-text', role: 'alert'}, t('reg.findings', {n: findings.length})),
          table([t('reg.f_file'), t('reg.f_row'), t('reg.f_column'), t('reg.f_message')], h('tbody', null,
            findings.map((f) => h('tr', {class: 'finding', dataset: {row: f.row ?? ''}},
              h('td', null, f.file), h('td', null, f.row ?? '—'), h('td', {class: 'mono'}, f.column ?? '—'),
              h('td', null, f.message))))));
      }
    } finally {
      button.disabled = false;
    }
  }}, h('label', {class: 'grow'}, t('reg.file'), file), button);
  body.append(h('section', {class: 'card'}, h('h2', null, t('reg.upload')),
    h('p', {class: 'muted'}, t('reg.upload_help')), form, result));
}

// ------------------------------------------------------------------ quarantine

async function quarantineView(body, ctx) {
  const {t} = ctx;
  const panel = h('div', {class: 'reg-panel'});
  const card = h('section', {class: 'card'}, h('p', {class: 'muted'}, t('reg.quarantine_help')));
  const sites = await allSites(ctx);
  if (!ctx.alive()) return;
  const list = pagedList(ctx, card, [t('reg.mn'), t('reg.first_seen'), t('reg.last_seen'), t('reg.packets'),
    t('reg.peer'), t('reg.refused'), t('reg.actions')],
  (offset) => ctx.api.get('quarantine', {limit: PAGE, offset}),
  (q) => h('tr', {dataset: {mn: q.mn}}, h('td', {class: 'mono'}, q.mn), h('td', null, fmtTime(q.first_seen)),
    h('td', null, fmtTime(q.last_seen)), h('td', null, q.packets), h('td', {class: 'mono'}, q.last_peer || '—'),
    h('td', null, q.refused || '—'),
    h('td', null, q.registered ? null : h('button', {type: 'button', class: 'reg-claim',
      onclick: () => claim(ctx, panel, q, sites, list.reload)}, t('reg.claim')))));
  body.append(panel, card);
  await list.load(0);
}

function claim(ctx, panel, q, sites, reload) {
  const {t} = ctx;
  const site = select({name: 'site_id'}, sites.map((s) => [s.id, `${s.enterprise} · ${s.name}`]));
  const f = deviceFields(ctx, null);
  const error = h('div', {class: 'error-text', role: 'alert'});
  const form = h('form', {class: 'filters reg-claim-form', onsubmit: async (event) => {
    event.preventDefault();
    error.textContent = '';
    const json = {site_id: Number(site.value), interval_s: Number(f.interval_s.value)};
    for (const key of ['device_kind', 'leniency', 'password']) if (f[key].value) json[key] = f[key].value;
    try {
      const done = await ctx.api.post(`quarantine/${encodeURIComponent(q.mn)}/claim`, json);
      ctx.toast(t('reg.claimed', {mn: q.mn, stored: done.claim.stored, refused: done.claim.refused}));
      panel.replaceChildren();
      await reload();
    } catch (err) {
      error.textContent = err.detail || String(err);
    }
  }},
  h('label', null, t('reg.site'), site), h('label', null, t('reg.password'), f.password),
  h('label', null, t('reg.interval'), f.interval_s), h('label', null, t('reg.kind'), f.device_kind),
  h('button', {type: 'submit', class: 'primary', disabled: !sites.length}, t('reg.claim')),
  h('button', {type: 'button', onclick: () => panel.replaceChildren()}, t('common.cancel')));
  mount(panel, h('section', {class: 'card'}, h('h2', {class: 'mono'}, `${t('reg.claim')} ${q.mn}`), form, error));
}
