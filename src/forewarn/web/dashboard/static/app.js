// The dashboard shell: session, navigation bar, language switch, router and live stream.
// Each page is a module in pages/ exporting {title: {zh, en}, render(root, ctx)}; render may
// return a cleanup function, called when the user leaves the page.

import {api, ApiError, setCsrf, setUnauthorizedHandler} from './lib/api.js';
import {h, mount} from './lib/dom.js';
import {getLang, pick, setLang, t} from './lib/i18n.js';
import * as live from './lib/live.js';

/** path pattern -> page module; the first match wins. `bare` pages have no navigation bar. */
const ROUTES = [
  {pattern: /^\/$/, page: 'overview'},
  {pattern: /^\/screen$/, page: 'screen', bare: true},
  {pattern: /^\/sites\/(?<id>\d+)$/, page: 'site'},
  {pattern: /^\/alarms$/, page: 'alarms'},
  {pattern: /^\/alarms\/(?<id>\d+)$/, page: 'alarm'},
  {pattern: /^\/silences$/, page: 'silences'},
  {pattern: /^\/playback$/, page: 'playback'},
  {pattern: /^\/registry$/, page: 'registry', may: 'write_registry'},
  {pattern: /^\/screening$/, page: 'screening', may: 'audit_data'},
  {pattern: /^\/statistics$/, page: 'statistics'},
  {pattern: /^\/linkage$/, page: 'linkage', may: 'read_audit'},
];

/** The navigation bar: [path, string key, the action the user needs (if any)]. */
const NAV = [
  ['/', 'nav.overview'], ['/alarms', 'nav.alarms'], ['/silences', 'nav.silences'],
  ['/playback', 'nav.playback'], ['/registry', 'nav.registry', 'write_registry'], ['/screening', 'nav.screening', 'audit_data'], ['/statistics', 'nav.statistics'],
  ['/linkage', 'nav.linkage', 'read_audit'], ['/screen', 'nav.screen'],
];

const state = {session: null, cleanup: null, token: 0};

function may(action) {
  return !action || (state.session && state.session.may.includes(action));
}

export function navigate(path, {replace = false} = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  route();
}

function toast(text, kind = 'info') {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, 5000);
}

function renderBar(bare) {
  const bar = document.getElementById('bar');
  bar.hidden = bare || !state.session;
  if (bar.hidden) return;
  const here = location.pathname;
  mount(document.getElementById('nav'), NAV.filter(([, , action]) => may(action)).map(([path, key]) =>
    h('a', {href: path, class: (path === '/' ? here === '/' : here === path || here.startsWith(`${path}/`)) ? 'active' : null}, t(key))));
  const user = state.session.user;
  const reach = user.region_code || user.enterprise || '';
  document.getElementById('who').textContent = `${user.name} · ${t(`role.${user.role}`)}${reach ? ` · ${reach}` : ''}`;
  document.getElementById('lang').textContent = t('app.lang');
  document.getElementById('logout').textContent = t('app.logout');
}

/** What a page's render() gets. Live handlers and timers registered through it end with the page. */
function pageContext(params, token) {
  const stops = [];
  const ctx = {
    params,
    query: new URLSearchParams(location.search),
    user: state.session.user,
    may,
    api,
    t,
    pick,
    lang: getLang(),
    navigate,
    toast,
    /** false once the user has left this page (an answer arriving late must not draw). */
    alive: () => state.token === token,
    live: {on: (type, fn) => { const stop = live.on(type, fn); stops.push(stop); return stop; }},
    every: (ms, fn) => { const id = setInterval(fn, ms); stops.push(() => clearInterval(id)); return id; },
    onLeave: (fn) => stops.push(fn),
  };
  return {ctx, stop: () => stops.splice(0).forEach((fn) => { try { fn(); } catch (err) { console.error(err); } })};
}

async function route() {
  const root = document.getElementById('page');
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  const token = ++state.token;
  if (!state.session) {
    renderBar(true);
    renderLogin(root);
    return;
  }
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const found = ROUTES.map((r) => ({r, m: path.match(r.pattern)})).find(({m}) => m);
  renderBar(found ? Boolean(found.r.bare) : false);
  document.body.classList.toggle('bare', Boolean(found && found.r.bare));
  if (!found || !may(found.r.may)) {
    mount(root, h('section', {class: 'card'}, h('h1', null, t('app.notfound')), h('a', {href: '/'}, t('nav.overview'))));
    return;
  }
  mount(root, h('p', {class: 'muted'}, t('app.loading')));
  const {ctx, stop} = pageContext(found.m.groups || {}, token);
  try {
    const module = await import(`./pages/${found.r.page}.js`);
    if (!ctx.alive()) return;
    const page = module.default;
    document.title = `${pick(page.title)} · forewarn`;
    root.replaceChildren();
    root.dataset.page = found.r.page;
    const cleanup = await page.render(root, ctx);
    const stopAll = () => { stop(); if (typeof cleanup === 'function') cleanup(); };
    if (ctx.alive()) state.cleanup = stopAll; else stopAll();
  } catch (err) {
    stop();
    if (err instanceof ApiError && err.status === 401) return;
    console.error(err);
    if (ctx.alive()) showError(root, err);
  }
}

function showError(root, err) {
  const detail = err instanceof ApiError ? err.detail : String(err && err.message ? err.message : err);
  mount(root, h('section', {class: 'card error'}, h('h1', null, t('app.error')), h('p', null, detail),
    h('button', {type: 'button', onclick: () => route()}, t('app.retry'))));
}

function renderLogin(root) {
  document.title = `${t('login.title')}`;
  const message = h('p', {class: 'error-text', role: 'alert'});
  const name = h('input', {name: 'name', autocomplete: 'username', required: true, autofocus: true});
  const password = h('input', {name: 'password', type: 'password', autocomplete: 'current-password', required: true});
  // A control-room screen must stay live for days with nobody at it: on /screen the login
  // offers (ticked) a read-only session that lasts weeks instead of a person's 12 hours.
  const wanted = new URLSearchParams(location.search).get('next') || location.pathname;
  const screen = h('input', {name: 'screen', type: 'checkbox', checked: wanted.startsWith('/screen')});
  const form = h('form', {class: 'card login', onsubmit: async (event) => {
    event.preventDefault();
    message.textContent = '';
    try {
      await api.post('auth/login', {name: name.value, password: password.value, screen: screen.checked});
      if (!(await loadSession())) { message.textContent = t('login.cookie'); return; }
      live.connect();
      const next = new URLSearchParams(location.search).get('next');
      navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : (location.pathname === '/login' ? '/' : location.pathname + location.search), {replace: true});
    } catch (err) {
      message.textContent = `${t('login.failed')}: ${err instanceof ApiError ? err.detail : err}`;
    }
  }},
  h('h1', null, t('login.title')),
  h('label', null, t('login.name'), name),
  h('label', null, t('login.password'), password),
  wanted.startsWith('/screen') ? h('label', {class: 'check'}, screen, t('login.screen')) : null,
  h('button', {type: 'submit', class: 'primary'}, t('login.submit')),
  message,
  h('p', {class: 'muted'}, h('button', {type: 'button', class: 'linkish', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); route(); }}, t('app.lang'))));
  mount(root, form);
}

/** The session of the cookie, if any: true when logged in. */
async function loadSession() {
  try {
    const session = await fetch('/api/v1/auth/session', {credentials: 'same-origin', headers: {Accept: 'application/json'}});
    if (!session.ok) { state.session = null; return false; }
    state.session = await session.json();
    setCsrf(state.session.csrf_token);
    return true;
  } catch {
    state.session = null;
    return false;
  }
}

function wire() {
  document.addEventListener('click', (event) => {
    const a = event.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || event.defaultPrevented || event.button !== 0 ||
        event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const href = a.getAttribute('href');
    if (!href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/') || href.startsWith('/static/')) return;
    event.preventDefault();
    navigate(href);
  });
  window.addEventListener('popstate', route);
  document.getElementById('lang').addEventListener('click', () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); route(); });
  document.getElementById('logout').addEventListener('click', async () => {
    try { await api.post('auth/logout', {}); } catch { /* the session may be gone already */ }
    state.session = null;
    live.disconnect();
    navigate('/');
  });
  setUnauthorizedHandler(() => {
    if (!state.session) return;
    state.session = null;
    live.disconnect();
    route();
  });
  live.onStatus((up) => document.body.classList.toggle('live-down', !up));
}

async function start() {
  setLang(getLang());
  wire();
  if (await loadSession()) live.connect();
  if (location.pathname === '/login' && state.session) history.replaceState(null, '', '/');
  route();
}

start();
