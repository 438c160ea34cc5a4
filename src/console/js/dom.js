// DOM building and display formats shared by every page. Elements are made with createElement and
// text with text nodes only, so data from the API can never become markup.

/**
 * h('tr', { class: 'x', 'data-code': code, onclick: fn }, child, [children], 'text')
 * Attributes: `class`, `data-*`, `aria-*` and plain attributes are set as attributes; `on<event>`
 * functions become listeners; `value`, `checked`, `disabled`, `selected` are set as properties.
 * Children: nodes, strings and numbers (as text), arrays, and null/undefined/false (skipped).
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked' || name === 'selected' || name === 'disabled' || name === 'required') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's content. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// ---- time, in the site's time zone when known, else the browser's ----

let timeZone;
const formatters = new Map();

export function setTimeZone(zone) {
  timeZone = zone || undefined;
  formatters.clear();
}

export function currentTimeZone() {
  return timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function formatter(kind) {
  let format = formatters.get(kind);
  if (format === undefined) {
    const options = { timeZone, hourCycle: 'h23' };
    if (kind === 'time') Object.assign(options, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    else if (kind === 'short') Object.assign(options, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    else Object.assign(options, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
    format = new Intl.DateTimeFormat('en-GB', options);
    formatters.set(kind, format);
  }
  return format;
}

const toDate = (value) => (value instanceof Date ? value : new Date(value));

/** 14:05:09 */
export function formatClock(value) {
  if (value === null || value === undefined) return '—';
  return formatter('time').format(toDate(value));
}

/** 28 Nov, 14:05 (with the year when not this year) */
export function formatDateTime(value) {
  if (value === null || value === undefined) return '—';
  const date = toDate(value);
  return formatter(date.getFullYear() === new Date().getFullYear() ? 'short' : 'long').format(date);
}

/** "in 3 h 10 min", "12 min ago" */
export function formatRelative(value, nowMs = Date.now()) {
  if (value === null || value === undefined) return '';
  const deltaMs = toDate(value).getTime() - nowMs;
  const minutes = Math.round(Math.abs(deltaMs) / 60_000);
  let text;
  if (minutes < 1) text = 'less than a minute';
  else if (minutes < 60) text = `${minutes} min`;
  else if (minutes < 48 * 60) text = `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  else text = `${Math.round(minutes / 1440)} days`;
  return deltaMs >= 0 ? `in ${text}` : `${text} ago`;
}

/** 1234.5678 → "1,234.6"; null → "—" */
export function formatNumber(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return Number(value).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "1 order", "3 orders" */
export const plural = (count, noun, nouns = `${noun}s`) => `${count} ${count === 1 ? noun : nouns}`;

export const humanize = (text) => String(text ?? '').replace(/_/g, ' ');

// ---- chips ----

export function priorityChip(priority) {
  const level = /^P[1-4]$/.test(priority) ? priority.toLowerCase() : 'p4';
  return h('span', { class: `chip ${level}`, 'data-testid': 'priority', title: `priority ${priority}` }, priority);
}

export function statusChip(status) {
  return h('span', { class: `chip status status-${status}`, 'data-testid': 'status' }, humanize(status));
}

const verificationLooks = {
  pending: 'neutral',
  verified_by_telemetry: 'ok',
  verified_by_operator: 'ok',
  rejected: 'warn',
};

export function verificationChip(verification) {
  return h('span', { class: `chip ${verificationLooks[verification] ?? 'neutral'}`, 'data-testid': 'verification', 'data-verification': verification }, humanize(verification));
}

/** An incident's priority reasons: "+20 burst — kind burst" per line. */
export function reasonsList(reasons) {
  if (!Array.isArray(reasons) || reasons.length === 0) return h('span', { class: 'muted' }, '—');
  const sorted = [...reasons].sort((left, right) => right.points - left.points);
  return h(
    'ul',
    { class: 'reasons', 'data-testid': 'reasons' },
    sorted.map((reason) => h('li', {}, h('span', { class: 'points' }, `+${formatNumber(reason.points, 0)}`), ` ${humanize(reason.factor)} `, h('span', { class: 'detail' }, reason.detail))),
  );
}

export function message(kind, text, testId) {
  return h('div', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testId }, text);
}

/** A table with sticky headers: columns [{ label, class }], rows as <tr> elements. */
export function table(columns, rows, { testId, empty = 'Nothing to show.', tall = false } = {}) {
  return h(
    'div',
    { class: `table-wrap${tall ? ' tall' : ''}` },
    h(
      'table',
      { 'data-testid': testId },
      h('thead', {}, h('tr', {}, columns.map((column) => h('th', { class: column.class, scope: 'col' }, column.label)))),
      h('tbody', {}, rows.length > 0 ? rows : h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, empty))),
    ),
  );
}
