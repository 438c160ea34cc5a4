// The site's anomaly, incident and work-order events from /api/v1/events/stream, shared by every
// view of the console: one EventSource while anyone listens. The views poll as well, so a stream
// that is down (no broker, a proxy that buffers) costs freshness, never correctness.

const EVENT_TYPES = ['anomaly', 'incident', 'work_order'];
/** EventSource retries by itself after a dropped connection; after a refused one it gives up, and we try again this much later. */
const REOPEN_AFTER_MS = 15_000;

const listeners = new Set();
const stateListeners = new Set();
let source;
let reopenTimer;
let state = 'off';

function setState(next) {
  state = next;
  for (const listener of stateListeners) listener(state);
}

function open() {
  clearTimeout(reopenTimer);
  reopenTimer = undefined;
  source = new EventSource('/api/v1/events/stream');
  setState('connecting');
  source.addEventListener('open', () => setState('live'));
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      setState('down');
      source = undefined;
      if (listeners.size > 0) reopenTimer = setTimeout(open, REOPEN_AFTER_MS);
    } else setState('connecting');
  });
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        data = undefined;
      }
      for (const listener of [...listeners]) listener(type, data);
    });
  }
  // Events were lost while this client lagged: everyone refetches.
  source.addEventListener('dropped', () => {
    for (const listener of [...listeners]) listener('dropped', undefined);
  });
}

/** listener(type, data) for every event; returns the way to stop listening. */
export function onSiteEvent(listener) {
  listeners.add(listener);
  if (source === undefined && reopenTimer === undefined) open();
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0) {
      clearTimeout(reopenTimer);
      reopenTimer = undefined;
      source?.close();
      source = undefined;
      setState('off');
    }
  };
}

/** listener(state): 'off', 'connecting', 'live' or 'down'. */
export function onStreamState(listener) {
  stateListeners.add(listener);
  listener(state);
  return () => stateListeners.delete(listener);
}
