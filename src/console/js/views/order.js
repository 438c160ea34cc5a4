// #/orders: find a work order; #/orders/<id or code>: one order with its timeline, the priority
// reasons of its incident, and the dispatcher's actions its status allows (assign, cancel,
// reopen). Every action names the version it was made against; a 409 (someone else changed the
// order first) is shown with the order's current state, and the order is reloaded.
import { api, ApiError, poller, query as queryString } from '../api.js';
import { formatDateTime, formatNumber, formatRelative, h, humanize, message, plural, priorityChip, reasonsList, replace, statusChip, table } from '../dom.js';
import { onSiteEvent } from '../events.js';

const DISPATCH_ACTIONS = ['assign', 'cancel', 'reopen'];
const DISPATCH_ROLES = ['dispatcher', 'admin'];
const NOTE_REQUIRED = new Set(['cancel', 'reopen']);
const ACTION_LABELS = { assign: 'Assign crew', cancel: 'Cancel order', reopen: 'Reopen order' };

export function orderView(root, context) {
  return context.args.length === 0 ? orderList(root, context) : orderDetail(root, context);
}

// ---- the list ----

function orderList(root, { query }) {
  const lookup = h('input', { type: 'search', placeholder: 'WO-12 or order id', 'aria-label': 'Order code or id', 'data-testid': 'order-lookup' });
  const statusSelect = h(
    'select',
    { 'aria-label': 'Status', 'data-testid': 'orders-status' },
    [['open', 'Open'], ['', 'All'], ['completed', 'Completed'], ['cancelled', 'Cancelled']].map(([value, label]) => h('option', { value, selected: (query.get('status') ?? 'open') === value }, label)),
  );
  const errorBox = h('div');
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Work orders')),
    h(
      'form',
      {
        class: 'toolbar',
        onsubmit: (event) => {
          event.preventDefault();
          if (lookup.value.trim() !== '') location.hash = `#/orders/${encodeURIComponent(lookup.value.trim())}`;
        },
      },
      lookup,
      h('button', { type: 'submit', class: 'primary' }, 'Open'),
      h('span', { class: 'spacer' }),
      statusSelect,
    ),
    errorBox,
    list,
  );

  const refresh = poller(15_000, async () => {
    const status = statusSelect.value;
    try {
      const body = await api(`/api/v1/work-orders${queryString({ open: status === 'open' ? 'true' : undefined, status: status === 'open' ? undefined : status, limit: 500 })}`);
      const nowMs = Date.now();
      replace(errorBox);
      replace(
        list,
        table(
          [{ label: 'Priority' }, { label: 'Order' }, { label: 'Status' }, { label: 'Title' }, { label: 'Zone' }, { label: 'Crew' }, { label: 'Created' }, { label: 'Due' }],
          (body.work_orders ?? []).map((order) =>
            h(
              'tr',
              { 'data-testid': 'order-row', 'data-code': order.code },
              h('td', {}, priorityChip(order.priority)),
              h('td', {}, h('a', { href: `#/orders/${encodeURIComponent(order.code)}`, class: 'mono' }, order.code)),
              h('td', {}, statusChip(order.status)),
              h('td', {}, order.title),
              h('td', {}, order.zone ?? '—'),
              h('td', {}, order.crew ?? '—'),
              h('td', { class: 'nowrap' }, formatDateTime(order.created_at)),
              h('td', { class: 'nowrap' }, formatDateTime(order.due_at), h('div', { class: 'muted' }, formatRelative(order.due_at, nowMs))),
            ),
          ),
          { testId: 'orders-table', empty: 'No work orders.' },
        ),
      );
    } catch (error) {
      replace(errorBox, message('error', `Could not load orders: ${error.message}`));
    }
  });
  statusSelect.addEventListener('change', () => refresh.refresh());
  return () => refresh.stop();
}

// ---- one order ----

function timelineDetail(event) {
  const detail = event.detail ?? {};
  const parts = [];
  if (detail.crew) parts.push(`crew ${detail.crew}${detail.previous_crew ? ` (was ${detail.previous_crew})` : ''}`);
  if (detail.explanation) parts.push(detail.explanation);
  if (detail.chosen_by && !String(detail.explanation ?? '').startsWith('chosen by')) parts.push(`chosen by ${detail.chosen_by}`);
  if (detail.due_basis?.explanation) parts.push(`due: ${detail.due_basis.explanation}`);
  if (Array.isArray(detail.officers)) parts.push(`officers ${detail.officers.join(', ')}`);
  if (detail.on_time !== undefined) parts.push(detail.on_time ? 'on time' : 'late');
  if (detail.minutes_left !== undefined && event.action === 'sla_warning') parts.push(`${detail.minutes_left} min left`);
  return parts.join('; ');
}

function orderDetail(root, { me, args }) {
  const id = args[0];
  const canDispatch = DISPATCH_ROLES.includes(me.role);
  const title = h('h1', {}, `Work order ${id}`);
  const chips = h('span', {});
  const messageBox = h('div', { 'data-testid': 'order-message' });
  const facts = h('div', { class: 'panel' }, h('p', { class: 'muted' }, 'Loading…'));
  const why = h('div', { class: 'panel' });
  const actions = h('div', { class: 'panel', 'data-testid': 'order-actions' });
  const timeline = h('section', { class: 'panel' });
  replace(
    root,
    h('div', { class: 'view-head' }, title, chips, h('a', { href: '#/queue', class: 'updated' }, '← queue')),
    messageBox,
    h('div', { class: 'columns wide-left' }, h('div', {}, facts, why), h('div', {}, canDispatch ? actions : null)),
    timeline,
  );

  let order;
  let crews;
  let formOpen = false;
  let closed = false;

  function showMessage(kind, text) {
    replace(messageBox, message(kind, text, kind === 'error' ? 'order-error' : 'order-notice'));
  }

  function renderFacts() {
    title.textContent = `Work order ${order.code}`;
    document.title = `${order.code} · Tirta`;
    replace(chips, priorityChip(order.priority), ' ', statusChip(order.status));
    const nowMs = Date.now();
    const place = order.location === null ? '—' : h('a', { href: `https://www.openstreetmap.org/?mlat=${order.location.lat}&mlon=${order.location.lon}#map=17/${order.location.lat}/${order.location.lon}`, target: '_blank', rel: 'noopener noreferrer' }, `${formatNumber(order.location.lat, 5)}, ${formatNumber(order.location.lon, 5)}`);
    const rows = [
      ['Title', order.title],
      ['Job', humanize(order.job_type)],
      ['Zone', order.zone ?? '—'],
      ['Location', place],
      ['Crew', order.crew ?? h('span', { class: 'chip warn' }, 'unassigned')],
      ['Source', order.source === 'manual' ? 'manual order' : `incident ${order.incident_id}`],
      ['Created', formatDateTime(order.created_at)],
      ['Due', h('span', {}, formatDateTime(order.due_at), ' ', h('span', { class: 'muted' }, `(${formatRelative(order.due_at, nowMs)})`), order.overdue ? h('span', {}, ' ', h('span', { class: 'chip alarm' }, 'overdue')) : null)],
      ['Due because', order.due_basis?.explanation ?? '—'],
      ['Version', h('span', { 'data-testid': 'order-version' }, String(order.version))],
    ];
    if (order.description) rows.splice(1, 0, ['Description', order.description]);
    if (order.completed_at) rows.push(['Completed', `${formatDateTime(order.completed_at)}${order.completed_by?.length ? ` by ${order.completed_by.join(', ')}` : ''}`]);
    if (order.completion_note) rows.push(['Completion note', order.completion_note]);
    if (order.cancelled_at) rows.push(['Cancelled', formatDateTime(order.cancelled_at)]);
    replace(facts, h('h2', {}, 'Order'), h('dl', { class: 'facts', 'data-testid': 'order-facts', 'data-status': order.status, 'data-crew': order.crew ?? '' }, rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])));
  }

  async function renderWhy() {
    if (order.incident_id === null) {
      replace(why, h('h2', {}, 'Why this priority'), h('p', { class: 'muted' }, 'A manual order: its priority was set by the dispatcher who created it.'));
      return;
    }
    try {
      const incident = await api(`/api/v1/incidents/${encodeURIComponent(order.incident_id)}`);
      replace(
        why,
        h('h2', {}, 'Why this priority'),
        h('p', {}, priorityChip(incident.priority), ` score ${formatNumber(incident.score, 0)} — ${humanize(incident.kind)} in ${incident.zone ?? 'the network'}, ${incident.verified ? 'verified' : 'not verified'}, ${plural(incident.complaint_ids.length, 'complaint')}, ${plural(incident.anomaly_ids.length, 'anomaly', 'anomalies')}${incident.closed_at ? `, closed ${formatDateTime(incident.closed_at)}` : ''}`),
        incident.priority === order.priority ? null : h('p', { class: 'muted' }, `The order opened at ${order.priority}; the incident has since moved to ${incident.priority}.`),
        reasonsList(incident.reasons),
      );
    } catch (error) {
      replace(why, h('h2', {}, 'Why this priority'), h('p', { class: 'muted' }, error.status === 403 ? 'Your role may not read incidents.' : `The incident could not be read: ${error.message}`));
    }
  }

  function renderTimeline() {
    replace(
      timeline,
      h('h2', {}, 'Timeline'),
      table(
        [{ label: 'When' }, { label: 'Who' }, { label: 'Action' }, { label: 'Status' }, { label: 'Version', class: 'number' }, { label: 'Note' }, { label: 'Detail' }],
        (order.timeline ?? []).map((event) =>
          h(
            'tr',
            { 'data-testid': 'timeline-row', 'data-action': event.action },
            h('td', { class: 'nowrap' }, formatDateTime(event.at)),
            h('td', {}, event.actor),
            h('td', {}, humanize(event.action)),
            h('td', { class: 'nowrap' }, event.from === null ? humanize(event.to) : event.from === event.to ? humanize(event.to) : `${humanize(event.from)} → ${humanize(event.to)}`),
            h('td', { class: 'number' }, String(event.version)),
            h('td', {}, event.note ?? ''),
            h('td', { class: 'detail' }, timelineDetail(event)),
          ),
        ),
        { testId: 'order-timeline', empty: 'No changes recorded.', tall: true },
      ),
    );
  }

  function renderActions() {
    if (!canDispatch) return;
    formOpen = false;
    const possible = DISPATCH_ACTIONS.filter((action) => order.allowed_actions.includes(action));
    replace(
      actions,
      h('h2', {}, 'Dispatch'),
      possible.length === 0
        ? h('p', { class: 'muted' }, `Nothing to dispatch while the order is ${humanize(order.status)}.`)
        : h(
            'div',
            { class: 'actions' },
            possible.map((action) => h('button', { type: 'button', class: action === 'cancel' ? 'danger' : action === 'assign' ? 'primary' : '', 'data-testid': `order-action-${action}`, onclick: () => openForm(action) }, ACTION_LABELS[action])),
          ),
      h('p', { class: 'muted' }, order.crew === null ? 'The crew carries out the work (acknowledge, start, complete) from its phone.' : `${order.crew} carries out the work from its phone.`),
    );
  }

  async function openForm(action) {
    formOpen = true;
    const errors = h('div');
    const note = h('textarea', { id: 'order-note', rows: 3, 'data-testid': 'order-note', required: NOTE_REQUIRED.has(action), placeholder: NOTE_REQUIRED.has(action) ? 'Why (required)' : 'Note (optional)' });
    const fields = [];
    let crewSelect;
    if (action === 'assign') {
      crewSelect = h('select', { id: 'order-crew', 'data-testid': 'order-assign-crew' }, h('option', { value: '' }, 'Loading crews…'));
      fields.push(h('div', { class: 'field' }, h('label', { for: 'order-crew' }, 'Crew'), crewSelect));
      loadCrewOptions(crewSelect);
    }
    fields.push(h('div', { class: 'field' }, h('label', { for: 'order-note' }, NOTE_REQUIRED.has(action) ? 'Note (required)' : 'Note'), note));
    const submit = h('button', { type: 'submit', class: action === 'cancel' ? 'danger' : 'primary', 'data-testid': 'order-action-submit' }, ACTION_LABELS[action]);
    const form = h(
      'form',
      {
        class: 'action-form',
        'data-testid': `order-form-${action}`,
        novalidate: true,
        onsubmit: async (event) => {
          event.preventDefault();
          replace(errors);
          const body = { version: order.version };
          if (note.value.trim() !== '') body.note = note.value.trim();
          if (NOTE_REQUIRED.has(action) && body.note === undefined) {
            replace(errors, message('error', 'A note is required: say why.'));
            note.setAttribute('aria-invalid', 'true');
            note.focus();
            return;
          }
          if (crewSelect !== undefined) {
            if (crewSelect.value === '') {
              replace(errors, message('error', 'Choose a crew.'));
              return;
            }
            body.crew = crewSelect.value;
          }
          submit.disabled = true;
          try {
            const changed = await api(`/api/v1/work-orders/${encodeURIComponent(order.id)}/${action}`, { method: 'POST', body });
            showMessage('ok', `${ACTION_LABELS[action]}: done. ${changed.code} is now ${humanize(changed.status)}${changed.crew ? ` with ${changed.crew}` : ''} (version ${changed.version}).`);
            formOpen = false;
            await load();
          } catch (error) {
            submit.disabled = false;
            if (error instanceof ApiError && error.status === 409) {
              const current = error.body;
              showMessage('error', `${error.message}. The order is now ${humanize(current.status ?? '?')} at version ${current.version ?? '?'}; allowed now: ${(current.allowed_actions ?? []).join(', ') || 'nothing'}. Reloaded.`);
              formOpen = false;
              await load();
            } else if (error instanceof ApiError && error.status === 400) {
              replace(errors, message('error', (error.body.issues ?? []).map((issue) => `${issue.field}: ${issue.message}`).join('; ') || error.message));
            } else {
              replace(errors, message('error', error.message));
            }
          }
        },
      },
      h('h3', {}, ACTION_LABELS[action]),
      fields,
      errors,
      h('div', { class: 'actions' }, submit, h('button', { type: 'button', 'data-testid': 'order-action-back', onclick: renderActions }, 'Back')),
    );
    actions.querySelector('.action-form')?.remove();
    actions.append(form);
    (crewSelect ?? note).focus();
  }

  async function loadCrewOptions(select) {
    try {
      crews ??= (await api('/api/v1/crews')).crews ?? [];
    } catch (error) {
      replace(select, h('option', { value: '' }, `Crews could not be read: ${error.message}`));
      return;
    }
    const capable = (crew) => crew.skills.includes(order.job_type);
    const serves = (crew) => order.zone === null || crew.zones.length === 0 || crew.zones.includes(order.zone);
    const ranked = [...crews].sort((left, right) => Number(capable(right)) - Number(capable(left)) || Number(serves(right)) - Number(serves(left)) || Number(right.on_shift) - Number(left.on_shift) || left.id.localeCompare(right.id));
    const choice = ranked.find((crew) => capable(crew) && crew.id !== order.crew);
    replace(
      select,
      h('option', { value: '' }, 'Choose a crew'),
      ranked.map((crew) =>
        h(
          'option',
          { value: crew.id, disabled: !capable(crew), selected: crew.id === choice?.id },
          `${crew.name} (${crew.id}) — ${crew.on_shift ? 'on shift' : 'off shift'}${serves(crew) ? '' : `, not usually in ${order.zone}`}${capable(crew) ? '' : `, cannot do ${humanize(order.job_type)}`}${crew.id === order.crew ? ', assigned now' : ''}`,
        ),
      ),
    );
  }

  async function load() {
    try {
      order = await api(`/api/v1/work-orders/${encodeURIComponent(id)}`);
    } catch (error) {
      replace(facts, message('error', error.status === 404 ? `There is no work order ${id}.` : `The order could not be read: ${error.message}`));
      replace(actions);
      return;
    }
    if (closed) return;
    renderFacts();
    renderTimeline();
    if (!formOpen) renderActions();
    renderWhy();
  }

  // Someone else's change to this order: reload, unless the dispatcher is filling in a form (a stale version then answers 409).
  const refresh = poller(30_000, async () => {
    if (!formOpen) await load();
  });
  const stopEvents = onSiteEvent((type, data) => {
    if (type === 'dropped' || (type === 'work_order' && order !== undefined && data?.order?.id === order.id && data.order.version !== order.version)) refresh.refresh();
  });
  return () => {
    closed = true;
    refresh.stop();
    stopEvents();
  };
}
