// The operator and dispatcher console: who is signed in, the navigation their role may use, and a
// hash router that mounts one view at a time (#/live, #/overview, #/anomalies, #/queue,
// #/orders/<id or code>, #/complaint, #/kpi). Each view's mount returns its cleanup, which closes
// its event streams and timers. The server enforces every role; the navigation only hides.
import { api, signOut } from './api.js';
import { h, replace } from './dom.js';
import { onSiteEvent, onStreamState } from './events.js';
import { loadSite } from './site.js';
import { anomaliesView } from './views/anomalies.js';
import { complaintView } from './views/complaint.js';
import { kpiView } from './views/kpi.js';
import { liveView } from './views/live.js';
import { orderView } from './views/order.js';
import { overviewView } from './views/overview.js';
import { queueView } from './views/queue.js';

const views = [
  { id: 'live', label: 'Live', view: liveView, roles: ['operator', 'engineer', 'admin'] },
  { id: 'overview', label: 'Overview', view: overviewView, roles: ['operator', 'dispatcher', 'engineer', 'admin'] },
  { id: 'anomalies', label: 'Anomalies', view: anomaliesView, roles: ['operator', 'engineer', 'admin'] },
  { id: 'queue', label: 'Queue', view: queueView, roles: ['operator', 'dispatcher', 'engineer', 'admin'] },
  { id: 'orders', label: 'Orders', view: orderView, roles: ['dispatcher', 'admin'] },
  { id: 'complaint', label: 'Complaint', view: complaintView, roles: ['operator', 'dispatcher', 'admin'] },
  { id: 'kpi', label: 'KPI', view: kpiView, roles: ['dispatcher', 'engineer', 'admin'] },
];
/** Routes reachable without a nav link: an order's page from the queue (every queue reader may read an order). */
const extraAccess = { orders: ['operator', 'engineer'] };

const root = document.getElementById('view');
const nav = document.getElementById('nav');
let cleanup;

/** "#/orders/WO-12?x=1" → { id: 'orders', args: ['WO-12'], query: URLSearchParams } */
function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const [id = '', ...args] = path.split('/').filter((part) => part !== '').map((part) => decodeURIComponent(part));
  return { id, args, query: new URLSearchParams(search) };
}

function route(me, allowed) {
  cleanup?.();
  cleanup = undefined;
  const { id, args, query } = parseHash();
  const entry = views.find((view) => view.id === id);
  if (entry === undefined) {
    location.replace(`#/${allowed[0].id}`);
    return;
  }
  for (const link of nav.querySelectorAll('a')) {
    if (link.dataset.view === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!entry.roles.includes(me.role) && !(extraAccess[id] ?? []).includes(me.role)) {
    replace(root, h('div', { class: 'message warn', 'data-testid': 'not-allowed' }, `The ${entry.label} view is not available to the ${me.role} role.`));
    return;
  }
  document.title = `${entry.label} · Tirta`;
  root.replaceChildren();
  root.dataset.view = id;
  try {
    cleanup = entry.view(root, { me, args, query });
  } catch (error) {
    console.error(error);
    replace(root, h('div', { class: 'message error', role: 'alert' }, `This view failed to open: ${error.message}`));
  }
}

async function start() {
  const me = await api('/api/v1/auth/me');
  if (me.role === 'crew') {
    location.replace('/crew');
    return;
  }
  document.getElementById('who-name').textContent = sessionStorage.getItem('tirta.displayName') || me.name;
  document.getElementById('who-role').textContent = me.role;
  document.getElementById('sign-out').addEventListener('click', signOut);
  const allowed = views.filter((view) => view.roles.includes(me.role));
  replace(nav, allowed.map((view) => h('a', { href: `#/${view.id}`, 'data-view': view.id, 'data-testid': `nav-${view.id}` }, view.label)));

  const dot = document.getElementById('stream-dot');
  const text = document.getElementById('stream-text');
  onStreamState((state) => {
    dot.className = `live-dot${state === 'live' ? ' on' : state === 'down' ? ' off' : ''}`;
    dot.dataset.state = state;
    text.textContent = state === 'live' ? 'live' : state === 'down' ? 'polling' : 'connecting';
  });
  // Held for the page's life: the indicator then tells whether updates arrive, whatever the view.
  onSiteEvent(() => undefined);

  await loadSite();
  window.addEventListener('hashchange', () => route(me, allowed));
  route(me, allowed);
}

start().catch((error) => {
  if (error?.status === 401) return; // on the way to the sign-in page
  console.error(error);
  replace(root, h('div', { class: 'message error', role: 'alert' }, `The console could not start: ${error.message}`));
});
