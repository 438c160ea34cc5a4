// #/queue: open work orders, most urgent first then earliest due (the server's order), each with
// the priority reasons of the incident that opened it; and the open incidents with theirs.
// Refetched on every anomaly, incident or work-order event, and every 15 s in case the stream is down.
import { api, poller } from '../api.js';
import { formatClock, formatDateTime, formatNumber, formatRelative, h, humanize, message, plural, priorityChip, reasonsList, replace, statusChip, table } from '../dom.js';
import { onSiteEvent } from '../events.js';

const REFRESH_MS = 15_000;

/** The incident's reasons; and, when its priority has moved since the order opened, by how much. */
function incidentReasons(order, incident) {
  return [
    incident.priority === order.priority ? null : h('div', { class: 'muted' }, 'incident now ', priorityChip(incident.priority), ` (${formatNumber(incident.score, 0)} pts)`),
    reasonsList(incident.reasons),
  ];
}

export function queueView(root) {
  const updated = h('span', { class: 'updated', 'data-testid': 'queue-updated' });
  const errorBox = h('div');
  const orders = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const incidents = h('div');
  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Queue'), updated),
    errorBox,
    h('section', { class: 'panel' }, h('h2', {}, 'Open work orders'), orders),
    h('section', { class: 'panel' }, h('h2', {}, 'Open incidents'), incidents),
  );

  function orderRows(list, incidentById, nowMs) {
    return list.map((order) => {
      const incident = order.incident_id === null ? undefined : incidentById.get(order.incident_id);
      const overdue = Date.parse(order.due_at) < nowMs;
      return h(
        'tr',
        { class: overdue ? 'overdue' : '', 'data-testid': 'queue-row', 'data-code': order.code, 'data-id': order.id, 'data-status': order.status, 'data-priority': order.priority },
        h('td', {}, priorityChip(order.priority)),
        h('td', { class: 'nowrap' }, h('a', { href: `#/orders/${encodeURIComponent(order.code)}`, class: 'mono', 'data-testid': 'queue-order-link' }, order.code)),
        h('td', {}, statusChip(order.status)),
        h('td', {}, order.title, h('div', { class: 'muted' }, humanize(order.job_type))),
        h('td', { class: 'nowrap' }, order.zone ?? '—'),
        h('td', { class: 'nowrap', 'data-testid': 'queue-crew' }, order.crew ?? h('span', { class: 'chip warn' }, 'unassigned')),
        h('td', { class: 'nowrap' }, formatDateTime(order.due_at), h('div', { class: overdue ? '' : 'muted' }, overdue ? h('strong', {}, `overdue ${formatRelative(order.due_at, nowMs).replace(' ago', '')}`) : formatRelative(order.due_at, nowMs))),
        h('td', {}, order.source === 'manual' ? h('span', { class: 'muted' }, 'manual order') : incident === undefined ? h('span', { class: 'muted' }, 'incident not found') : incidentReasons(order, incident)),
      );
    });
  }

  function incidentRows(list, orderById) {
    return list.map((incident) => {
      const order = incident.work_order_id === null ? undefined : orderById.get(incident.work_order_id);
      return h(
        'tr',
        { 'data-testid': 'incident-row', 'data-id': incident.id, 'data-zone': incident.zone ?? '' },
        h('td', {}, priorityChip(incident.priority), h('div', { class: 'muted number' }, `${formatNumber(incident.score, 0)} pts`)),
        h('td', {}, humanize(incident.kind), h('div', { class: 'muted' }, `opened ${formatClock(incident.opened_at)}`)),
        h('td', { class: 'nowrap' }, incident.zone ?? '—'),
        h('td', {}, incident.verified ? h('span', { class: 'chip ok' }, 'verified') : h('span', { class: 'chip neutral' }, 'unverified')),
        h('td', { class: 'number' }, String(incident.complaint_ids.length)),
        h('td', { class: 'number' }, String(incident.anomaly_ids.length)),
        h('td', {}, reasonsList(incident.reasons)),
        h('td', { class: 'nowrap' }, incident.work_order_id === null ? h('span', { class: 'muted' }, 'none yet') : h('a', { href: `#/orders/${encodeURIComponent(incident.work_order_id)}`, class: 'mono' }, order?.code ?? 'order')),
      );
    });
  }

  const refresh = poller(REFRESH_MS, async () => {
    try {
      const [orderBody, incidentBody] = await Promise.all([api('/api/v1/work-orders?open=true&limit=500'), api('/api/v1/incidents?open=true&limit=500')]);
      const nowMs = Date.now();
      const orderList = orderBody.work_orders ?? [];
      const incidentList = incidentBody.incidents ?? [];
      const incidentById = new Map(incidentList.map((incident) => [incident.id, incident]));
      // An order's incident may have closed (the event is over, the repair is not): fetch those one by one.
      const missing = [...new Set(orderList.filter((order) => order.incident_id !== null && !incidentById.has(order.incident_id)).map((order) => order.incident_id))];
      const closed = await Promise.all(missing.map((id) => api(`/api/v1/incidents/${encodeURIComponent(id)}`).catch(() => undefined)));
      for (const incident of closed) if (incident !== undefined) incidentById.set(incident.id, incident);
      const orderById = new Map(orderList.map((order) => [order.id, order]));
      replace(
        orders,
        table(
          [{ label: 'Priority' }, { label: 'Order' }, { label: 'Status' }, { label: 'Title' }, { label: 'Zone' }, { label: 'Crew' }, { label: 'Due' }, { label: 'Why this priority' }],
          orderRows(orderList, incidentById, nowMs),
          { testId: 'queue-orders', empty: 'No open work orders.' },
        ),
      );
      replace(
        incidents,
        table(
          [{ label: 'Priority' }, { label: 'Kind' }, { label: 'Zone' }, { label: 'Evidence' }, { label: 'Complaints', class: 'number' }, { label: 'Anomalies', class: 'number' }, { label: 'Why this priority' }, { label: 'Work order' }],
          incidentRows(incidentList, orderById),
          { testId: 'queue-incidents', empty: 'No open incidents.' },
        ),
      );
      replace(errorBox);
      updated.textContent = `${plural(orderList.length, 'open order')}, ${plural(incidentList.length, 'open incident')}; updated ${formatClock(nowMs)}`;
    } catch (error) {
      replace(errorBox, message('error', `Could not refresh: ${error.message}`));
    }
  });

  let debounce;
  const stopEvents = onSiteEvent(() => {
    clearTimeout(debounce);
    debounce = setTimeout(() => refresh.refresh(), 300);
  });
  return () => {
    clearTimeout(debounce);
    refresh.stop();
    stopEvents();
  };
}
