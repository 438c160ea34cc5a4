// #/anomalies: what the detectors found, newest first, with open-only and zone filters (asked of
// the server) and a kind filter (over what was fetched). Refreshed on every anomaly event and
// every 15 s.
import { api, poller, query as queryString } from '../api.js';
import { formatClock, formatDateTime, formatNumber, formatRelative, h, humanize, message, replace, table } from '../dom.js';
import { onSiteEvent } from '../events.js';
import { siteZones } from '../site.js';

const REFRESH_MS = 15_000;

function durationText(anomaly, nowMs) {
  const endMs = anomaly.end === null ? nowMs : Date.parse(anomaly.end);
  const minutes = Math.round((endMs - Date.parse(anomaly.start)) / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function anomaliesView(root, { query }) {
  const openOnly = h('input', { type: 'checkbox', checked: query.get('open') !== 'false', 'data-testid': 'anomalies-open-only' });
  const zoneSelect = h('select', { 'data-testid': 'anomalies-zone', 'aria-label': 'Zone' }, h('option', { value: '' }, 'All zones'));
  const kindSelect = h('select', { 'data-testid': 'anomalies-kind', 'aria-label': 'Kind' }, h('option', { value: '' }, 'All kinds'));
  const updated = h('span', { class: 'updated' });
  const errorBox = h('div');
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  let anomalies = [];

  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Anomalies'), updated),
    h(
      'div',
      { class: 'toolbar' },
      h('label', { class: 'inline' }, openOnly, 'Open only'),
      zoneSelect,
      kindSelect,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => refresh.refresh() }, 'Refresh'),
    ),
    errorBox,
    list,
  );

  siteZones().then(
    (zones) => zoneSelect.append(...zones.map((zone) => h('option', { value: zone, selected: query.get('zone') === zone }, zone))),
    () => undefined,
  );

  function render() {
    const nowMs = Date.now();
    const kinds = [...new Set(anomalies.map((anomaly) => anomaly.kind))].sort();
    const chosenKind = kindSelect.value;
    replace(kindSelect, h('option', { value: '' }, 'All kinds'), kinds.map((kind) => h('option', { value: kind, selected: kind === chosenKind }, humanize(kind))));
    const shown = anomalies.filter((anomaly) => chosenKind === '' || anomaly.kind === chosenKind);
    const rows = shown.map((anomaly) =>
      h(
        'tr',
        { 'data-testid': 'anomaly-row', 'data-kind': anomaly.kind, 'data-zone': anomaly.zone ?? '' },
        h('td', { class: 'nowrap' }, formatDateTime(anomaly.start), h('div', { class: 'muted' }, formatRelative(anomaly.start, nowMs))),
        h('td', { class: 'nowrap' }, anomaly.end === null ? h('span', { class: `chip ${anomaly.sensor_fault ? 'warn' : 'alarm'}` }, 'OPEN') : formatClock(anomaly.end), h('div', { class: 'muted' }, durationText(anomaly, nowMs))),
        h('td', {}, anomaly.zone ?? '—'),
        h('td', {}, humanize(anomaly.kind), anomaly.sensor_fault ? h('div', {}, h('span', { class: 'chip warn' }, 'sensor fault')) : null),
        h('td', { class: 'mono' }, anomaly.tag),
        h('td', { class: 'number nowrap' }, `${formatNumber(anomaly.magnitude, 2)} ${anomaly.unit ?? ''}`),
        h('td', { class: 'number' }, `${formatNumber(anomaly.confidence * 100, 0)} %`),
        h('td', {}, anomaly.detail),
      ),
    );
    replace(
      list,
      table(
        [{ label: 'Start' }, { label: 'End' }, { label: 'Zone' }, { label: 'Kind' }, { label: 'Tag' }, { label: 'Magnitude', class: 'number' }, { label: 'Confidence', class: 'number' }, { label: 'Detail' }],
        rows,
        { testId: 'anomalies-table', empty: openOnly.checked ? 'No open anomalies.' : 'No anomalies.' },
      ),
    );
  }

  const refresh = poller(REFRESH_MS, async () => {
    try {
      const body = await api(`/api/v1/anomalies${queryString({ open: openOnly.checked ? 'true' : undefined, zone: zoneSelect.value, limit: 500 })}`);
      anomalies = body.anomalies ?? [];
      replace(errorBox);
      updated.textContent = `${anomalies.length} shown, updated ${formatClock(Date.now())}`;
      render();
    } catch (error) {
      replace(errorBox, message('error', `Could not refresh: ${error.message}`));
    }
  });

  openOnly.addEventListener('change', () => refresh.refresh());
  zoneSelect.addEventListener('change', () => refresh.refresh());
  kindSelect.addEventListener('change', render);
  const stopEvents = onSiteEvent((type) => {
    if (type === 'anomaly' || type === 'dropped') refresh.refresh();
  });
  return () => {
    refresh.stop();
    stopEvents();
  };
}
