// Cameras on the dashboard: a panel per camera on the site page, and the snapshots an alarm kept.
//
// A live view is played only when the browser can play it without credentials: MJPEG (or a
// still) in an <img> from the camera's host, which the page's CSP names (routes.py), or HLS in a
// <video> where the browser plays HLS natively (Safari, Android; Chromium does not, and hls.js is
// not vendored). Otherwise, and for cameras with only a snapshot address, the panel shows a
// snapshot grabbed by forewarn itself (GET /api/v1/cameras/{id}/snapshot, refreshed every few
// seconds): the page stays 'self' only and the camera's credentials never reach the browser.
import {h, mount} from './dom.js';
import {addStrings, fmtTime} from './i18n.js';

addStrings({
  zh: {
    'cam.title': '视频监控', 'cam.live': '实时画面', 'cam.snapshot': '快照（每 {s} 秒刷新）',
    'cam.nohls': '此浏览器不能直接播放 HLS 实时画面', 'cam.open': '打开实时画面地址',
    'cam.failed': '摄像头未响应', 'cam.loading': '正在获取画面…',
    'cam.shots': '告警时的现场快照', 'cam.taken': '拍摄于 {at}', 'cam.none': '告警时站点摄像头没有给出画面',
    'cam.took': '用时 {ms} 毫秒', 'cam.size': '{kb} kB',
  },
  en: {
    'cam.title': 'Cameras', 'cam.live': 'Live view', 'cam.snapshot': 'Snapshot (refreshed every {s} s)',
    'cam.nohls': 'This browser cannot play the HLS live view by itself', 'cam.open': 'open the live view address',
    'cam.failed': 'The camera did not answer', 'cam.loading': 'getting a picture…',
    'cam.shots': 'Snapshots when the alarm fired', 'cam.taken': 'taken {at}', 'cam.none': 'No camera of the site gave a picture',
    'cam.took': '{ms} ms', 'cam.size': '{kb} kB',
  },
});

const REFRESH_S = 5;
let styled = false;

function useStyles() {
  if (styled) return;
  styled = true;
  document.head.append(h('link', {rel: 'stylesheet', href: '/static/lib/cameras.css'}));
}

/** A JPEG from forewarn's own API as an object URL (an <img> alone cannot show the API's reason). */
async function fetchJpeg(path) {
  const response = await fetch(path, {credentials: 'same-origin', cache: 'no-store'});
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.json()).detail || ''; } catch { /* not problem+json */ }
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return URL.createObjectURL(await response.blob());
}

/** The site page's camera panel, or null when the site has no camera (the panel is then hidden). */
export function cameraPanel(cameras, ctx) {
  if (!cameras || !cameras.length) return null;
  useStyles();
  return h('section', {class: 'card cameras', 'data-test': 'camera-panel'}, h('h2', null, ctx.t('cam.title')),
    h('div', {class: 'camera-grid'}, cameras.map((c) => cameraFigure(c, ctx))));
}

function cameraFigure(camera, ctx) {
  const live = liveView(camera, ctx);
  const body = [];
  if (live) body.push(live);
  if (camera.has_snapshot && !(live && live.dataset.playing)) body.push(snapshotView(camera, ctx));
  return h('figure', {class: 'camera', 'data-camera': camera.id}, body,
    h('figcaption', null, camera.name));
}

function liveView(camera, ctx) {
  if (camera.live_kind === 'image') {
    return h('div', {class: 'camera-view', dataset: {playing: '1'}},
      h('img', {src: camera.live_url, alt: camera.name, class: 'camera-live'}),
      h('div', {class: 'muted small'}, ctx.t('cam.live')));
  }
  if (camera.live_kind === 'hls') {
    const video = document.createElement('video');
    if (video.canPlayType('application/vnd.apple.mpegurl')) {
      Object.assign(video, {src: camera.live_url, muted: true, autoplay: true, controls: true, playsInline: true});
      video.className = 'camera-live';
      return h('div', {class: 'camera-view', dataset: {playing: '1'}}, video,
        h('div', {class: 'muted small'}, ctx.t('cam.live')));
    }
    return h('div', {class: 'camera-view'}, h('p', {class: 'muted small'}, ctx.t('cam.nohls'), ' · ',
      h('a', {href: camera.live_url, target: '_blank', rel: 'noopener'}, ctx.t('cam.open'))));
  }
  return null;
}

function snapshotView(camera, ctx) {
  const img = h('img', {alt: camera.name, class: 'camera-snapshot', 'data-test': 'camera-snapshot'});
  const note = h('div', {class: 'muted small'}, ctx.t('cam.loading'));
  let shown = null;
  async function refresh() {
    try {
      const next = await fetchJpeg(`/api/v1/cameras/${camera.id}/snapshot`);
      if (!ctx.alive()) { URL.revokeObjectURL(next); return; }
      img.src = next;
      if (shown) URL.revokeObjectURL(shown);
      shown = next;
      mount(note, ctx.t('cam.snapshot', {s: REFRESH_S}), ' · ', fmtTime(Date.now()));
      note.classList.remove('camera-error');
    } catch (error) {
      if (!ctx.alive()) return;
      mount(note, ctx.t('cam.failed'), ': ', error.message);
      note.classList.add('camera-error');
    }
  }
  refresh();
  ctx.every(REFRESH_S * 1000, refresh);
  ctx.onLeave(() => { if (shown) URL.revokeObjectURL(shown); });
  return h('div', {class: 'camera-view'}, img, note);
}

/**
 * The alarm page's snapshots (GET /api/v1/alarms/{id}/snapshots), each with its time and sha256;
 * hidden when there are none. Asked again for a while after the alarm fired: cameras answer
 * within seconds of it, after the alarm itself is shown.
 */
export function alarmSnapshots(alarm, ctx) {
  useStyles();
  const card = h('section', {class: 'card snapshots', hidden: true, 'data-test': 'alarm-snapshots'});
  const urls = [];
  let shown = 0;
  let tries = Date.now() - Date.parse(alarm.created || 0) < 60000 ? 15 : 1;
  async function load() {
    tries -= 1;
    const {items} = await ctx.api.get(`alarms/${alarm.id}/snapshots`);
    if (!ctx.alive()) return;
    if (items.length > shown) {
      shown = items.length;
      const figures = [];
      for (const s of items) figures.push(await snapshotFigure(s, ctx, urls));
      if (!ctx.alive()) return;
      card.hidden = false;
      mount(card, h('h2', null, ctx.t('cam.shots')), h('div', {class: 'camera-grid'}, figures));
    }
    if (tries > 0) setTimeout(() => { if (ctx.alive()) load().catch(() => {}); }, 2000);
  }
  load().catch(() => {});
  ctx.onLeave(() => urls.forEach((u) => URL.revokeObjectURL(u)));
  return card;
}

async function snapshotFigure(s, ctx, urls) {
  const facts = h('figcaption', null, h('strong', null, s.camera), ' · ', ctx.t('cam.taken', {at: fmtTime(s.taken)}));
  if (!s.url) {
    return h('figure', {class: 'camera'}, h('p', {class: 'camera-error'}, s.error), facts);
  }
  let img = null;
  try {
    const src = await fetchJpeg(s.url);
    urls.push(src);
    img = h('img', {src, alt: s.camera, class: 'camera-snapshot', 'data-sha256': s.sha256});
  } catch (error) {
    img = h('p', {class: 'camera-error'}, error.message);
  }
  return h('figure', {class: 'camera'}, img, facts,
    h('div', {class: 'muted small'}, ctx.t('cam.size', {kb: (s.size / 1024).toFixed(1)}), ' · ',
      ctx.t('cam.took', {ms: s.took_ms})),
    h('code', {class: 'sha256', title: 'sha256'}, `sha256 ${s.sha256}`));
}
