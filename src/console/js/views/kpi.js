// #/kpi: crew and officer KPI over a window, whole or split into the site's local days, weeks or
// months (definitions in docs/kpi.md), with the same report as CSV. Refetched when a work order
// changes and every minute.
import { api, poller, query as queryString } from '../api.js';
import { currentTimeZone, formatClock, formatDateTime, formatNumber, h, message, replace, table } from '../dom.js';
import { onSiteEvent } from '../events.js';

const WINDOWS = [
  ['1', 'Last 24 hours'],
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
  ['90', 'Last 90 days'],
  ['custom', 'Custom dates'],
];
const BUCKETS = [
  ['', 'Whole window'],
  ['day', 'Per day'],
  ['week', 'Per week'],
  ['month', 'Per month'],
];
const DAY_MS = 86_400_000;

/** A line above the first row of each period after the first. */
const periodStart = (rows, index) => (index > 0 && rows[index - 1].period_start !== rows[index].period_start ? 'period-start' : '');

const rate = (value) => (value === null || value === undefined ? '—' : `${formatNumber(value * 100, 0)} %`);
const minutes = (value) => (value === null || value === undefined ? '—' : formatNumber(value, 0));

export function kpiView(root, { query }) {
  const windowSelect = h('select', { 'aria-label': 'Window', 'data-testid': 'kpi-window' }, WINDOWS.map(([value, label]) => h('option', { value, selected: (query.get('window') ?? '30') === value }, label)));
  const bucketSelect = h('select', { 'aria-label': 'Split', 'data-testid': 'kpi-bucket' }, BUCKETS.map(([value, label]) => h('option', { value, selected: (query.get('bucket') ?? '') === value }, label)));
  const fromInput = h('input', { type: 'date', 'aria-label': 'From', 'data-testid': 'kpi-from' });
  const toInput = h('input', { type: 'date', 'aria-label': 'To (inclusive)', 'data-testid': 'kpi-to' });
  const custom = h('span', { class: 'hidden' }, fromInput, ' to ', toInput);
  const csvLink = h('a', { class: 'button', href: '/api/v1/kpi?format=csv', download: 'tirta-kpi.csv', 'data-testid': 'kpi-csv' }, 'Download CSV');
  const updated = h('span', { class: 'updated', 'data-testid': 'kpi-updated' });
  const errorBox = h('div');
  const crews = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const officers = h('div');

  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Crew KPI'), updated),
    h('div', { class: 'toolbar' }, windowSelect, custom, bucketSelect, h('button', { type: 'button', 'data-testid': 'kpi-refresh', onclick: () => refresh.refresh() }, 'Refresh'), h('span', { class: 'spacer' }), csvLink),
    errorBox,
    h('section', { class: 'panel' }, h('h2', {}, 'Per crew'), crews),
    h('section', { class: 'panel' }, h('h2', {}, 'Per officer'), officers),
    h('p', { class: 'muted' }, 'Orders: completed in the period. On time: completed by the due time. Minutes to acknowledge: from assignment; to complete: from creation. Open backlog: assigned and not finished at the period end.'),
  );

  /** The query of the chosen window; `to` left out means now. */
  function params() {
    const bucket = bucketSelect.value || undefined;
    if (windowSelect.value !== 'custom') return { from: new Date(Date.now() - Number(windowSelect.value) * DAY_MS).toISOString(), bucket };
    // Dates are taken as local midnights of this browser; the end date is included.
    const from = fromInput.value === '' ? undefined : new Date(`${fromInput.value}T00:00:00`);
    const to = toInput.value === '' ? undefined : new Date(new Date(`${toInput.value}T00:00:00`).getTime() + DAY_MS);
    return { from: from?.toISOString(), to: to?.toISOString(), bucket };
  }

  function periodCell(row, bucketed) {
    return bucketed ? h('td', { class: 'nowrap' }, formatDateTime(row.period_start)) : null;
  }

  function figureCells(row) {
    return [
      h('td', { class: 'number', 'data-testid': 'kpi-orders' }, String(row.orders)),
      h('td', { class: 'number' }, String(row.on_time)),
      h('td', { class: 'number' }, rate(row.on_time_rate)),
      h('td', { class: 'number' }, minutes(row.mean_minutes_to_acknowledge)),
      h('td', { class: 'number' }, minutes(row.mean_minutes_to_complete)),
      h('td', { class: 'number', 'data-testid': 'kpi-backlog' }, String(row.open_backlog)),
    ];
  }

  const figureColumns = [
    { label: 'Orders', class: 'number' },
    { label: 'On time', class: 'number' },
    { label: 'On-time rate', class: 'number' },
    { label: 'Min to ack.', class: 'number' },
    { label: 'Min to complete', class: 'number' },
    { label: 'Open backlog', class: 'number' },
  ];

  function render(report) {
    const bucketed = report.bucket !== null;
    const periodColumn = bucketed ? [{ label: 'Period from' }] : [];
    const crewRows = report.crews.map((row, index) =>
      h('tr', { class: periodStart(report.crews, index), 'data-testid': 'kpi-crew-row', 'data-crew': row.crew_id, 'data-period': row.period_start }, periodCell(row, bucketed), h('td', {}, row.name, h('div', { class: 'muted mono' }, row.crew_id)), figureCells(row)),
    );
    const orders = report.crews.reduce((sum, row) => sum + row.orders, 0);
    const onTime = report.crews.reduce((sum, row) => sum + row.on_time, 0);
    // The backlog is a state at each period's end: the total is the last period's.
    const lastPeriod = report.crews.at(-1)?.period_start;
    const backlog = report.crews.filter((row) => row.period_start === lastPeriod).reduce((sum, row) => sum + row.open_backlog, 0);
    crewRows.push(
      h(
        'tr',
        { class: 'total', 'data-testid': 'kpi-total-row' },
        bucketed ? h('td', {}) : null,
        h('td', {}, 'All crews'),
        h('td', { class: 'number', 'data-testid': 'kpi-total-orders' }, String(orders)),
        h('td', { class: 'number' }, String(onTime)),
        h('td', { class: 'number' }, orders === 0 ? '—' : rate(onTime / orders)),
        h('td', {}),
        h('td', {}),
        h('td', { class: 'number', 'data-testid': 'kpi-total-backlog' }, String(backlog)),
      ),
    );
    replace(crews, table([...periodColumn, { label: 'Crew' }, ...figureColumns], crewRows, { testId: 'kpi-crews-table', tall: true }));
    replace(
      officers,
      table(
        [...periodColumn, { label: 'Officer' }, { label: 'Crew' }, ...figureColumns],
        report.officers.map((row, index) =>
          h('tr', { class: periodStart(report.officers, index), 'data-testid': 'kpi-officer-row', 'data-officer': row.officer_id, 'data-period': row.period_start }, periodCell(row, bucketed), h('td', {}, row.name, h('div', { class: 'muted mono' }, row.officer_id)), h('td', { class: 'mono' }, row.crew_id), figureCells(row)),
        ),
        { testId: 'kpi-officers-table', empty: 'No officers.', tall: true },
      ),
    );
    updated.textContent = `${formatDateTime(report.from)} to ${formatDateTime(report.to)} (${currentTimeZone()}); updated ${formatClock(Date.now())}`;
  }

  const refresh = poller(60_000, async () => {
    const search = queryString(params());
    csvLink.href = `/api/v1/kpi${queryString({ ...params(), format: 'csv' })}`;
    try {
      const report = await api(`/api/v1/kpi${search}`);
      replace(errorBox);
      render(report);
    } catch (error) {
      const issues = error.body?.issues;
      replace(errorBox, message('error', Array.isArray(issues) && issues.length > 0 ? issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ') : `KPI could not be read: ${error.message}`));
    }
  });

  windowSelect.addEventListener('change', () => {
    custom.classList.toggle('hidden', windowSelect.value !== 'custom');
    refresh.refresh();
  });
  custom.classList.toggle('hidden', windowSelect.value !== 'custom');
  for (const control of [bucketSelect, fromInput, toInput]) control.addEventListener('change', () => refresh.refresh());
  let debounce;
  const stopEvents = onSiteEvent((type) => {
    if (type !== 'work_order' && type !== 'dropped') return;
    clearTimeout(debounce);
    debounce = setTimeout(() => refresh.refresh(), 500);
  });
  return () => {
    clearTimeout(debounce);
    refresh.stop();
    stopEvents();
  };
}
