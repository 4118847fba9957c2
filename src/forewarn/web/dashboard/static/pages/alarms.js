// The alarm desk: the alarms in the user's scope, filtered and paged, newest first; overdue and
// escalated ones stand out; select many and take one step for all (POST alarms/bulk), each
// alarm answered on its own. The filters live in the address, so a filtered desk can be shared.
import {h, mount, select} from '../lib/dom.js';
import {fmtTime} from '../lib/i18n.js';
import {
  BULK_STEPS, DOMAINS, LEVELS, STATES, flags, levelBadge, stateBadge, useDeskStyles,
} from './alarm_desk.js';

const PAGE = 50;
const FILTERS = ['state', 'level', 'domain', 'region', 'site', 'from', 'to', 'group'];

export default {
  title: {zh: '告警处置', en: 'Alarm desk'},
  async render(root, ctx) {
    useDeskStyles();
    const {t} = ctx;
    const query = ctx.query;
    const filter = Object.fromEntries(FILTERS.map((k) => [k, query.get(k) || '']));
    if (!query.has('state') && query.get('open') !== 'false') filter.open = query.get('open') || 'true';
    let offset = Math.max(0, Number(query.get('offset')) || 0);
    const selected = new Set();
    const errors = new Map(); // alarm id -> the API's words for a refused bulk step

    const [regions, sites] = await Promise.all([
      ctx.api.get('regions', {limit: 1000}).catch(() => ({items: []})),
      ctx.api.get('sites', {limit: 1000}).catch(() => ({items: []})),
    ]);
    if (!ctx.alive()) return;

    // ------------------------------------------------------------ filters
    const stateSel = select({name: 'state'}, [['', t('f.open')], ['*', t('common.all')],
      ...STATES.map((s) => [s, t(`state.${s}`)])], filter.state || (filter.open === 'true' ? '' : '*'));
    const levelSel = select({name: 'level'}, [['', t('common.all')], ...LEVELS.map((n) => [n, t('level.n', {n})])],
      filter.level);
    const domainSel = select({name: 'domain'}, [['', t('common.all')], ...DOMAINS.map((d) => [d, t(`domain.${d}`)])],
      filter.domain);
    const regionSel = select({name: 'region'}, [['', t('common.all')],
      ...regions.items.map((r) => [r.code, `${r.name} (${r.code})`])], filter.region);
    const siteSel = select({name: 'site'}, [['', t('common.all')],
      ...sites.items.map((s) => [s.id, `${s.enterprise || ''} ${s.name}`.trim()])], filter.site);
    const fromIn = h('input', {type: 'datetime-local', name: 'from', value: filter.from});
    const toIn = h('input', {type: 'datetime-local', name: 'to', value: filter.to});
    const form = h('form', {class: 'filters desk-filters', onsubmit: (e) => { e.preventDefault(); apply(); }},
      h('label', null, t('f.state'), stateSel), h('label', null, t('f.level'), levelSel),
      h('label', null, t('f.domain'), domainSel), h('label', null, t('f.region'), regionSel),
      h('label', null, t('f.site'), siteSel), h('label', null, t('f.from'), fromIn), h('label', null, t('f.to'), toIn),
      h('button', {type: 'submit', class: 'primary'}, t('f.apply')),
      h('button', {type: 'button', onclick: () => { ctx.navigate('/alarms'); }}, t('f.reset')));

    function apply() {
      const next = new URLSearchParams();
      const state = stateSel.value;
      if (state && state !== '*') next.set('state', state);
      if (state === '*') next.set('open', 'all');
      for (const [key, el] of [['level', levelSel], ['domain', domainSel], ['region', regionSel], ['site', siteSel],
        ['from', fromIn], ['to', toIn]]) if (el.value) next.set(key, el.value);
      const text = next.toString();
      ctx.navigate(text ? `/alarms?${text}` : '/alarms', {replace: true});
    }

    // ------------------------------------------------------------ bulk bar
    const count = h('span', {class: 'count'});
    const stepSel = select({name: 'bulk-step'}, BULK_STEPS.filter(mayStep).map((s) => [s, t(`step.${s}`)]), 'ack');
    const noteIn = h('input', {name: 'bulk-note', placeholder: t('desk.note')});
    const toIn2 = h('input', {name: 'bulk-to', placeholder: t('desk.to')});
    const goBtn = h('button', {class: 'primary', type: 'button', onclick: bulk}, t('desk.apply'));
    const toLabel = h('label', null, t('desk.to'), toIn2);
    const bar = h('div', {class: 'bulkbar'}, count, h('label', null, t('desk.bulk_step'), stepSel), toLabel,
      h('label', {class: 'grow'}, t('desk.note'), noteIn), goBtn);
    stepSel.addEventListener('change', syncBar);

    function mayStep(step) {
      return step === 'comment' ? ctx.may('handle_alarms') || ctx.may('record_checks') : ctx.may('handle_alarms');
    }

    function syncBar() {
      count.textContent = t('desk.selected', {n: selected.size});
      goBtn.disabled = selected.size === 0 || !stepSel.value;
      toLabel.hidden = stepSel.value !== 'dispatch';
    }

    async function bulk() {
      const ids = [...selected];
      goBtn.disabled = true;
      try {
        const body = {ids, step: stepSel.value, note: noteIn.value};
        if (stepSel.value === 'dispatch') body.to = toIn2.value;
        const answer = await ctx.api.post('alarms/bulk', body);
        errors.clear();
        for (const r of answer.results) {
          if (r.ok) selected.delete(r.id); else errors.set(r.id, r.detail);
        }
        ctx.toast(t('desk.done', {done: answer.done, failed: answer.failed}), answer.failed ? 'error' : 'info');
        noteIn.value = '';
        await load();
      } catch (err) {
        ctx.toast(err.detail || String(err), 'error');
      } finally {
        syncBar();
      }
    }

    // ------------------------------------------------------------ the list
    const body = h('tbody');
    const allBox = h('input', {type: 'checkbox', title: t('desk.select_all'), onchange: () => {
      for (const box of body.querySelectorAll('input[type=checkbox]')) {
        box.checked = allBox.checked;
        const id = Number(box.dataset.id);
        if (allBox.checked) selected.add(id); else selected.delete(id);
      }
      syncBar();
    }});
    const table = h('table', {class: 'desk-table'},
      h('thead', null, h('tr', null, h('th', null, allBox), h('th', null, t('col.id')), h('th', null, t('col.level')),
        h('th', null, t('col.state')), h('th', null, t('col.domain')), h('th', null, t('col.where')),
        h('th', null, t('col.what')), h('th', null, t('col.first')), h('th', null, t('col.assignee')))),
      body);
    const pager = h('div', {class: 'pager'});
    const mayHandle = BULK_STEPS.some(mayStep);
    // a storm's alarms (GET alarms?group=): say so, so that they are handled together
    const groupNote = filter.group ? h('p', {class: 'group-note'}, t('desk.group', {id: filter.group}), ' ',
      h('a', {href: '/alarms'}, t('f.reset'))) : null;
    root.append(h('section', {class: 'card'}, h('h1', null, t('desk.title')), groupNote, form, mayHandle ? bar : null,
      table, pager));
    syncBar();

    function row(a) {
      const box = h('input', {type: 'checkbox', dataset: {id: a.id}, checked: selected.has(a.id), onchange: () => {
        if (box.checked) selected.add(a.id); else selected.delete(a.id);
        syncBar();
      }});
      const failed = errors.get(a.id);
      const cls = [a.overdue ? 'overdue' : '', a.escalated ? 'escalated' : '', failed ? 'failed' : ''].join(' ').trim();
      return h('tr', {class: cls || null, dataset: {id: a.id, state: a.state}},
        h('td', null, mayHandle ? box : null),
        h('td', null, h('a', {href: `/alarms/${a.id}`}, `#${a.id}`)),
        h('td', null, levelBadge(t, a.level)),
        h('td', null, stateBadge(t, a.state), flags(t, a),
          a.group_id && !filter.group ? h('a', {class: 'flag quiet', href: `/alarms?group=${a.group_id}&open=all`,
            title: t('desk.group_title')}, t('desk.group_flag', {id: a.group_id})) : null),
        h('td', null, t(`domain.${a.domain}`)),
        h('td', null, a.enterprise, h('br'), a.site_id ? h('a', {href: `/sites/${a.site_id}`}, a.site) : a.site),
        h('td', {class: 'what'}, h('div', null, a.title), h('div', {class: 'expl'}, a.explanation),
          failed ? h('div', {class: 'row-error'}, failed) : null),
        h('td', null, fmtTime(a.first_ts)),
        h('td', null, a.assignee || '—'));
    }

    async function load() {
      const q = {lang: ctx.lang, limit: PAGE, offset};
      for (const k of FILTERS) if (filter[k]) q[k] = filter[k];
      if (filter.open === 'true') q.open = 'true';
      const page = await ctx.api.get('alarms', q);
      if (!ctx.alive()) return;
      allBox.checked = false;
      mount(body, page.items.length ? page.items.map(row)
        : h('tr', null, h('td', {colspan: 9, class: 'muted'}, t('desk.empty'))));
      const pageNo = Math.floor(offset / PAGE) + 1;
      const pages = Math.max(1, Math.ceil(page.total / PAGE));
      mount(pager,
        h('button', {type: 'button', disabled: offset === 0, onclick: () => go(offset - PAGE)}, t('common.prev')),
        h('span', null, `${pageNo} / ${pages}`),
        h('button', {type: 'button', disabled: !page.next, onclick: () => go(offset + PAGE)}, t('common.next')),
        h('span', {class: 'muted'}, t('common.total', {n: page.total})));
    }

    function go(next) {
      offset = Math.max(0, next);
      const q = new URLSearchParams(location.search);
      if (offset) q.set('offset', String(offset)); else q.delete('offset');
      history.replaceState(null, '', `/alarms${q.toString() ? `?${q}` : ''}`);
      load().catch((err) => ctx.toast(err.detail || String(err), 'error'));
    }

    await load();
    // new alarms and steps by anyone: refresh the page (at most once a second)
    let pending = null;
    ctx.live.on('alarm', () => {
      if (pending) return;
      pending = setTimeout(() => { pending = null; if (ctx.alive()) load().catch(() => {}); }, 1000);
    });
    return () => clearTimeout(pending);
  },
};
