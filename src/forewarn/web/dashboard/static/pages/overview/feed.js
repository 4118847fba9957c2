// The newest alarms, kept live from the stream: a new alarm comes in at the top with a flash,
// a handling step updates its line, and a level-2 (or higher) alarm beeps (WebAudio, no sound
// file) unless the user muted it; the mute switch is remembered in localStorage.
//
// The list never holds more than `limit` lines, whatever runs for days.

import {h, mount} from '../../lib/dom.js';
import {addStrings, fmtTime, pick, t} from '../../lib/i18n.js';

addStrings({
  zh: {
    'feed.title': '最新告警', 'feed.none': '暂无告警', 'feed.mute': '静音', 'feed.unmute': '取消静音',
    'feed.level': '{n}级', 'feed.overdue': '超期', 'feed.escalated': '已升级', 'feed.silenced': '已屏蔽',
    'state.firing': '报警中', 'state.acknowledged': '已确认', 'state.dispatched': '已派单', 'state.checked': '已核查',
    'state.resolved': '已处置', 'state.closed': '已关闭',
  },
  en: {
    'feed.title': 'Newest alarms', 'feed.none': 'No alarms', 'feed.mute': 'Mute', 'feed.unmute': 'Unmute',
    'feed.level': 'Level {n}', 'feed.overdue': 'Overdue', 'feed.escalated': 'Escalated', 'feed.silenced': 'Silenced',
    'state.firing': 'Firing', 'state.acknowledged': 'Acknowledged', 'state.dispatched': 'Dispatched',
    'state.checked': 'Checked', 'state.resolved': 'Resolved', 'state.closed': 'Closed',
  },
});

const MUTE_KEY = 'forewarn.mute';
const FLASH_MS = 10000;

export function muted() { return localStorage.getItem(MUTE_KEY) === '1'; }

let audio = null;

/** Two short tones (an alarm, not music). Counted in <body data-beeps> so a test can see it. */
export function beep() {
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  if (muted()) return;
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
    const now = audio.currentTime;
    for (const [at, freq] of [[0, 880], [0.25, 660]]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + at);
      gain.gain.exponentialRampToValueAtTime(0.2, now + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + at);
      osc.stop(now + at + 0.22);
    }
  } catch (err) {
    console.warn('no sound', err);
  }
}

/** The mute switch (a button whose label says what a click does). */
export function muteButton(onChange) {
  const button = h('button', {type: 'button', class: 'mute', 'aria-pressed': String(muted())});
  const label = () => {
    button.textContent = muted() ? t('feed.unmute') : t('feed.mute');
    button.classList.toggle('on', muted());
    button.setAttribute('aria-pressed', String(muted()));
  };
  button.addEventListener('click', () => {
    localStorage.setItem(MUTE_KEY, muted() ? '0' : '1');
    label();
    if (onChange) onChange(muted());
  });
  label();
  return button;
}

export class AlarmFeed {
  /** @param {HTMLElement} list where the lines go; @param {{limit?: number, link?: boolean}} opts */
  constructor(list, opts = {}) {
    this.list = list;
    this.limit = opts.limit || 20;
    this.link = opts.link !== false;
    this.items = []; // AlarmBrief-shaped, newest first
    this.fresh = new Map(); // alarm id -> until when (ms) its line flashes: a refresh keeps the cue
  }

  /** Replace the lines with the overview's newest alarms (a refresh). */
  set(alarms) {
    this.items = alarms.slice(0, this.limit);
    this.render();
  }

  /** A live alarm event (alarm_id, event, level, state, site, title, at ...): true when it is new. */
  apply(event) {
    const found = this.items.find((a) => a.alarm_id === event.alarm_id);
    if (found) {
      found.state = event.state;
      found.level = event.level;
      this.render();
      return false;
    }
    if (event.event !== 'fired' && event.event !== 'reopened') return false;
    this.items.unshift({
      alarm_id: event.alarm_id, rule_id: event.rule_id, level: event.level, state: event.state,
      site_id: event.site_id, site: event.site, title: event.title, at: event.at, overdue: false,
      escalated: false, silenced: false,
    });
    this.items.length = Math.min(this.items.length, this.limit);
    this.fresh.set(event.alarm_id, Date.now() + FLASH_MS);
    this.render();
    return true;
  }

  render() {
    const now = Date.now();
    for (const [id, until] of this.fresh) if (until < now) this.fresh.delete(id);
    if (!this.items.length) {
      mount(this.list, h('li', {class: 'muted none'}, t('feed.none')));
      return;
    }
    mount(this.list, this.items.map((a) => {
      const title = pick(a.title);
      const line = h('li', {class: `alarm-line level${Math.min(a.level, 2)}${this.fresh.has(a.alarm_id) ? ' flash' : ''}`,
        dataset: {alarm: a.alarm_id, level: a.level}},
      h('span', {class: `badge level${Math.min(a.level, 2)}`}, t('feed.level', {n: a.level})),
      h('span', {class: 'what'},
        this.link ? h('a', {href: `/alarms/${a.alarm_id}`}, title) : h('strong', null, title),
        h('span', {class: 'where'}, a.site || '')),
      h('span', {class: 'when'}, fmtTime(a.at, false),
        h('span', {class: `state ${a.state}`}, t(`state.${a.state}`)),
        a.overdue ? h('span', {class: 'badge stopped'}, t('feed.overdue')) : null,
        a.escalated ? h('span', {class: 'badge level2'}, t('feed.escalated')) : null));
      return line;
    }));
  }
}
