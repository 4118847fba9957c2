// The Playback page (placeholder until its owner builds it).
import {h} from '../lib/dom.js';

export default {
  title: {zh: '回放', en: 'Playback'},
  async render(root, ctx) {
    root.append(h('section', {class: 'card'}, h('h1', null, ctx.pick(this.title))));
  },
};
