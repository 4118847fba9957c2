// Maintenance silences: those running now or to come (soonest to end first), a form to add
// one over a device or a whole site, and "end now" for each. Alarms in a silence are recorded
// as usual but not announced; the API decides what is allowed and its words are shown.
import {h, mount, select} from '../lib/dom.js';
import {fmtTime} from '../lib/i18n.js';
import {useDeskStyles} from './alarm_desk.js';

export default {
  title: {zh: '维护屏蔽', en: 'Silences'},
  async render(root, ctx) {
    useDeskStyles();
    const {t} = ctx;
    const mayHandle = ctx.may('handle_alarms');
    const body = h('tbody');
    const list = h('section', {class: 'card'}, h('h1', null, t('silences.title')),
      h('p', {class: 'muted'}, t('silences.help')),
      h('table', {class: 'silences'}, h('thead', null, h('tr', null,
        h('th', null, t('col.id')), h('th', null, t('silences.target')), h('th', null, t('silences.rule')),
        h('th', null, t('silences.from')), h('th', null, t('silences.until')), h('th', null, t('silences.note')),
        h('th', null, t('silences.by')), h('th', null, ''))), body));
    root.append(list);

    async function load() {
      const page = await ctx.api.get('silences', {limit: 500});
      if (!ctx.alive()) return;
      mount(body, page.items.length ? page.items.map(row)
        : h('tr', null, h('td', {colspan: 8, class: 'muted'}, t('silences.empty'))));
    }

    function row(s) {
      const end = mayHandle ? h('button', {type: 'button', class: 'danger', onclick: async () => {
        end.disabled = true;
        try {
          await ctx.api.del(`silences/${s.id}`);
          ctx.toast(t('silences.ended', {id: s.id}));
          await load();
        } catch (err) {
          ctx.toast(err.detail || String(err), 'error');
          end.disabled = false;
        }
      }}, t('silences.end')) : null;
      const target = s.mn ? `${s.mn} (${s.site || ''})` : h('a', {href: `/sites/${s.site_id}`}, s.site || `#${s.site_id}`);
      return h('tr', {dataset: {id: s.id}}, h('td', null, `#${s.id}`), h('td', null, target),
        h('td', null, s.rule_id || t('silences.all_rules')), h('td', null, fmtTime(s.from)),
        h('td', null, fmtTime(s.until)), h('td', null, s.note || '—'), h('td', null, s.actor), h('td', null, end));
    }

    if (mayHandle) {
      const sites = await ctx.api.get('sites', {limit: 1000}).catch(() => ({items: []}));
      if (!ctx.alive()) return;
      const kind = select({name: 'kind'}, [['mn', t('silences.device')], ['site', t('silences.whole_site')]], 'mn');
      const mn = h('input', {name: 'mn', placeholder: '451202...'});
      const site = select({name: 'site_id'}, sites.items.map((s) => [s.id, `${s.enterprise || ''} ${s.name}`.trim()]));
      const rule = h('input', {name: 'rule_id', placeholder: 'dq.nodata'});
      const from = h('input', {type: 'datetime-local', name: 'from'});
      const until = h('input', {type: 'datetime-local', name: 'until', required: true});
      const note = h('input', {name: 'note'});
      const error = h('div', {class: 'error-text', role: 'alert'});
      const mnLabel = h('label', null, t('silences.mn'), mn);
      const siteLabel = h('label', null, t('silences.site'), site);
      const sync = () => { mnLabel.hidden = kind.value !== 'mn'; siteLabel.hidden = kind.value !== 'site'; };
      kind.addEventListener('change', sync);
      sync();
      const form = h('form', {class: 'filters silence-form', onsubmit: async (event) => {
        event.preventDefault();
        error.textContent = '';
        const json = {until: until.value};
        if (kind.value === 'mn') json.mn = mn.value.trim(); else json.site_id = Number(site.value);
        if (rule.value.trim()) json.rule_id = rule.value.trim();
        if (from.value) json.from = from.value;
        if (note.value.trim()) json.note = note.value.trim();
        try {
          const made = await ctx.api.post('silences', json);
          ctx.toast(t('silences.made', {id: made.id}));
          note.value = '';
          await load();
        } catch (err) {
          error.textContent = err.detail || String(err);
        }
      }},
      h('label', null, t('silences.target'), kind), mnLabel, siteLabel, h('label', null, t('silences.rule'), rule),
      h('label', null, t('silences.from'), from), h('label', null, t('silences.until'), until),
      h('label', {class: 'grow'}, t('silences.note'), note),
      h('button', {type: 'submit', class: 'primary'}, t('silences.add')));
      root.append(h('section', {class: 'card'}, h('h2', null, t('silences.add')), form, error));
    }
    await load();
  },
};
