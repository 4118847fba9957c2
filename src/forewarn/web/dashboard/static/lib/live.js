// The live stream (Server-Sent Events from /api/v1/live/sse) shared by every page of one
// browser tab: one connection, handlers per event type. EventSource reconnects by itself;
// the status callback lets the shell show when the stream is down.

const handlers = new Map(); // type -> Set of functions
let source = null;
let statusListener = () => {};

const TYPES = ['readings', 'device', 'alarm', 'closed'];

/** Open the stream (after login). Safe to call again. */
export function connect() {
  if (source) return;
  source = new EventSource('/api/v1/live/sse', {withCredentials: true});
  source.onopen = () => statusListener(true);
  source.onerror = () => statusListener(false);
  for (const type of TYPES) {
    source.addEventListener(type, (message) => {
      let data;
      try { data = JSON.parse(message.data); } catch { return; }
      for (const fn of handlers.get(type) || []) {
        try { fn(data); } catch (err) { console.error('live handler', type, err); }
      }
    });
  }
}

export function disconnect() {
  if (source) source.close();
  source = null;
}

export function onStatus(fn) { statusListener = fn; }

/** Call fn(event) for every event of `type` ('reading' is an alias of 'readings');
 *  returns the function that stops it. */
export function on(type, fn) {
  const key = type === 'reading' ? 'readings' : type;
  if (!handlers.has(key)) handlers.set(key, new Set());
  handlers.get(key).add(fn);
  return () => handlers.get(key).delete(fn);
}

export const live = {on, connect, disconnect};
