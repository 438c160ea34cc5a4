// The crew's phone page: the crew's open orders (the server gives a crew member only its own
// crew's), with the actions each order's status allows among acknowledge, start and complete.
// Completing asks for a note and which officers did the job. Refreshed every 10 s and after each
// action; a 409 (the order changed meanwhile) is shown and the list reloaded.
import { api, ApiError, poller, signOut } from './api.js';
import { formatClock, formatDateTime, formatNumber, formatRelative, h, humanize, message, priorityChip, replace, statusChip } from './dom.js';

const CREW_ACTIONS = ['acknowledge', 'start', 'complete'];
const LABELS = { acknowledge: 'Acknowledge', start: 'Start work', complete: 'Complete' };
const REFRESH_MS = 10_000;
const PAGE_ROLES = ['crew', 'dispatcher', 'admin'];

const list = document.getElementById('orders');
const messageBox = document.getElementById('message');
const countText = document.getElementById('order-count');
const updatedText = document.getElementById('updated');

let officers; // [{ id, name }] of the crew, or undefined when the role may not read crews
let formOpen = false;
let refresher;

function showMessage(kind, text) {
  replace(messageBox, message(kind, text, kind === 'error' ? 'crew-error' : 'crew-notice'));
}

async function act(order, action, body, button) {
  button.disabled = true;
  try {
    const changed = await api(`/api/v1/work-orders/${encodeURIComponent(order.id)}/${action}`, { method: 'POST', body: { version: order.version, ...body } });
    showMessage('ok', `${changed.code}: ${humanize(changed.status)}.`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      showMessage('error', `${order.code} changed meanwhile: ${error.message}. Now ${humanize(error.body.status ?? '?')}. The list is reloaded.`);
    } else if (error instanceof ApiError && error.status === 400) {
      showMessage('error', (error.body.issues ?? []).map((issue) => `${issue.field}: ${issue.message}`).join('; ') || error.message);
      button.disabled = false;
      return false;
    } else if (error instanceof ApiError && error.status === 404) {
      showMessage('error', `${order.code} is no longer your crew's order.`);
    } else {
      showMessage('error', `${LABELS[action]} failed: ${error.message}`);
      button.disabled = false;
      return false;
    }
  }
  formOpen = false;
  refresher.refresh();
  return true;
}

function completeForm(card, order) {
  formOpen = true;
  card.querySelector('.actions')?.classList.add('hidden');
  const note = h('textarea', { id: `note-${order.id}`, rows: 3, placeholder: 'What was done (pipe repaired, valve replaced…)', 'data-testid': 'crew-complete-note' });
  const boxes = (officers ?? []).map((officer) => h('input', { type: 'checkbox', value: officer.id, checked: true, 'data-testid': 'crew-officer', 'data-officer': officer.id }));
  const errors = h('div');
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'crew-complete-submit' }, 'Confirm complete');
  const form = h(
    'form',
    {
      class: 'action-form',
      'data-testid': 'crew-complete-form',
      novalidate: true,
      onsubmit: async (event) => {
        event.preventDefault();
        replace(errors);
        const body = {};
        if (note.value.trim() !== '') body.note = note.value.trim();
        if (boxes.length > 0) {
          const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
          if (chosen.length === 0) {
            replace(errors, message('error', 'Tick at least one officer who did the job.'));
            return;
          }
          body.officers = chosen;
        }
        await act(order, 'complete', body, submit);
      },
    },
    h('div', { class: 'field' }, h('label', { for: note.id }, 'Completion note'), note),
    boxes.length === 0
      ? null
      : h(
          'fieldset',
          { class: 'field' },
          h('legend', {}, 'Who did the job'),
          boxes.map((box, index) => h('label', { class: 'inline' }, box, officers[index].name)),
        ),
    errors,
    h(
      'div',
      { class: 'actions' },
      submit,
      h(
        'button',
        {
          type: 'button',
          'data-testid': 'crew-complete-back',
          onclick: () => {
            formOpen = false;
            refresher.refresh();
          },
        },
        'Back',
      ),
    ),
  );
  card.append(form);
  note.focus();
}

function card(order, nowMs) {
  const overdue = Date.parse(order.due_at) < nowMs;
  const possible = CREW_ACTIONS.filter((action) => order.allowed_actions.includes(action));
  const place = order.location === null ? null : h('a', { href: `https://www.openstreetmap.org/?mlat=${order.location.lat}&mlon=${order.location.lon}#map=17/${order.location.lat}/${order.location.lon}`, target: '_blank', rel: 'noopener noreferrer' }, `${formatNumber(order.location.lat, 5)}, ${formatNumber(order.location.lon, 5)} (map)`);
  const element = h(
    'article',
    { class: `order-card ${order.priority.toLowerCase()}`, 'data-testid': 'crew-order-card', 'data-code': order.code, 'data-status': order.status },
    h('div', { class: 'head' }, h('span', { class: 'code' }, order.code), priorityChip(order.priority), statusChip(order.status)),
    h('h2', {}, order.title),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Job'),
      h('dd', {}, humanize(order.job_type)),
      h('dt', {}, 'Zone'),
      h('dd', {}, order.zone ?? '—'),
      place === null ? null : [h('dt', {}, 'Where'), h('dd', {}, place)],
      h('dt', {}, 'Due'),
      h('dd', { class: `due${overdue ? ' overdue' : ''}` }, formatDateTime(order.due_at), h('br'), overdue ? `OVERDUE by ${formatRelative(order.due_at, nowMs).replace(' ago', '')}` : formatRelative(order.due_at, nowMs)),
      order.description ? [h('dt', {}, 'Notes'), h('dd', {}, order.description)] : null,
    ),
  );
  if (possible.length > 0) {
    element.append(
      h(
        'div',
        { class: 'actions' },
        possible.map((action) => {
          const button = h('button', { type: 'button', class: 'primary', 'data-testid': `crew-action-${action}` }, LABELS[action]);
          button.addEventListener('click', () => (action === 'complete' ? completeForm(element, order) : act(order, action, {}, button)));
          return button;
        }),
      ),
    );
  } else if (order.status === 'new') element.append(h('p', { class: 'muted' }, 'Waiting for dispatch.'));
  return element;
}

async function load() {
  if (formOpen) return;
  try {
    const body = await api('/api/v1/work-orders?open=true&limit=200');
    if (formOpen) return;
    const orders = body.work_orders ?? [];
    const nowMs = Date.now();
    replace(list, orders.length === 0 ? h('p', { class: 'crew-empty', 'data-testid': 'crew-no-orders' }, 'No open orders. Well done.') : orders.map((order) => card(order, nowMs)));
    countText.textContent = `${orders.length} open order${orders.length === 1 ? '' : 's'}`;
    updatedText.textContent = `updated ${formatClock(nowMs)}`;
  } catch (error) {
    updatedText.textContent = `update failed ${formatClock(Date.now())}: ${error.message}`;
  }
}

async function start() {
  const me = await api('/api/v1/auth/me');
  if (!PAGE_ROLES.includes(me.role)) {
    location.replace('/');
    return;
  }
  document.getElementById('who-name').textContent = sessionStorage.getItem('tirta.displayName') || me.name;
  document.getElementById('sign-out').addEventListener('click', signOut);
  try {
    const crews = (await api('/api/v1/crews')).crews ?? [];
    const mine = crews.find((crew) => crew.id === me.crew);
    document.getElementById('crew-name').textContent = mine === undefined ? (me.crew ?? me.role) : `${mine.name}${mine.on_shift ? ' · on shift' : ' · off shift'}`;
    officers = mine?.officers;
  } catch (error) {
    // A role that may not read the roster completes without naming officers: the server credits the whole crew.
    if (!(error instanceof ApiError && error.status === 403)) throw error;
    document.getElementById('crew-name').textContent = me.crew ?? '';
  }
  refresher = poller(REFRESH_MS, load);
  document.getElementById('refresh').addEventListener('click', () => {
    formOpen = false;
    refresher.refresh();
  });
}

start().catch((error) => {
  if (error?.status === 401) return;
  replace(list, message('error', `This page could not start: ${error.message}`));
});
