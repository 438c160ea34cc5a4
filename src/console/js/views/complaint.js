// #/complaint: complaint intake for call-centre staff. The location is an address, a customer
// account or coordinates; the server places it in a zone. A 400 names each bad field, shown beside
// it. The stored complaint is then followed until telemetry (or an operator) verifies it, and the
// recent complaints show their verification as it changes.
import { api, ApiError, poller } from '../api.js';
import { formatClock, formatDateTime, h, humanize, message, replace, table, verificationChip } from '../dom.js';

const CHANNELS = [
  ['call_center', 'Call centre'],
  ['whatsapp', 'WhatsApp'],
  ['social_media', 'Social media'],
  ['web', 'Web form'],
  ['walk_in', 'Walk-in desk'],
  ['sp4n_lapor', 'SP4N-LAPOR'],
];
const CATEGORIES = [
  ['no_water', 'No water'],
  ['low_pressure', 'Low pressure'],
  ['leak_burst', 'Leak or burst'],
  ['water_quality', 'Water quality'],
  ['other', 'Other'],
];
const LOCATION_MODES = [
  ['address', 'Address'],
  ['account', 'Customer account'],
  ['coordinates', 'Coordinates'],
];
const RECENT_REFRESH_MS = 10_000;
const FOLLOW_MS = 5_000;

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export function complaintView(root) {
  let idempotencyKey = newKey();
  let followed;
  let followTimer;
  let closed = false;

  const errorSlots = new Map();
  /** A field with its label and a place for its error; `name` is the API's field path. */
  const field = (name, label, control, extra) => {
    const slot = h('div', { class: 'field-error', id: `error-${name.replace(/\W/g, '-')}`, 'data-testid': `error-${name}` });
    errorSlots.set(name, { slot, control });
    control.setAttribute('aria-describedby', slot.id);
    return h('div', { class: 'field', 'data-field': name }, h('label', { for: control.id }, label), control, extra, slot);
  };

  const channel = h('select', { id: 'complaint-channel', name: 'channel', 'data-testid': 'complaint-channel' }, CHANNELS.map(([value, label]) => h('option', { value, selected: value === 'call_center' }, label)));
  const category = h('select', { id: 'complaint-category', name: 'category', 'data-testid': 'complaint-category' }, CATEGORIES.map(([value, label]) => h('option', { value }, label)));
  const address = h('input', { id: 'complaint-address', name: 'address', autocomplete: 'off', placeholder: 'Jalan Braga 12', 'data-testid': 'complaint-address' });
  const account = h('input', { id: 'complaint-account', name: 'account', autocomplete: 'off', placeholder: '01-2345', 'data-testid': 'complaint-account' });
  const lat = h('input', { id: 'complaint-lat', name: 'lat', inputmode: 'decimal', placeholder: '-6.9080', 'data-testid': 'complaint-lat' });
  const lon = h('input', { id: 'complaint-lon', name: 'lon', inputmode: 'decimal', placeholder: '107.6080', 'data-testid': 'complaint-lon' });
  const text = h('textarea', { id: 'complaint-text', name: 'text', rows: 4, maxlength: 5000, placeholder: 'What the customer reports, in their words', 'data-testid': 'complaint-text' });
  const contact = h('input', { id: 'complaint-contact', name: 'contact', autocomplete: 'off', placeholder: 'phone or e-mail (optional)', 'data-testid': 'complaint-contact' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'complaint-submit' }, 'Submit complaint');
  const formError = h('div', { 'data-testid': 'complaint-form-error' });
  const result = h('div', { 'data-testid': 'complaint-result' });
  const recent = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const recentUpdated = h('span', { class: 'muted' });

  const modeRadios = LOCATION_MODES.map(([value, label]) =>
    h('label', { class: 'inline' }, h('input', { type: 'radio', name: 'location-mode', value, checked: value === 'address', 'data-testid': `complaint-location-mode-${value}`, onchange: showMode }), label),
  );
  const addressGroup = h('div', { 'data-mode': 'address' }, field('location.address', 'Address', address));
  const accountGroup = h('div', { 'data-mode': 'account', class: 'hidden' }, field('location.account', 'Customer account number', account));
  const coordinatesGroup = h('div', { 'data-mode': 'coordinates', class: 'field-row hidden' }, field('location.lat', 'Latitude', lat), field('location.lon', 'Longitude', lon));
  const locationSlot = h('div', { class: 'field-error', id: 'error-location', 'data-testid': 'error-location' });
  errorSlots.set('location', { slot: locationSlot, control: address });

  function mode() {
    return modeRadios.map((label) => label.querySelector('input')).find((radio) => radio.checked)?.value ?? 'address';
  }

  function showMode() {
    const current = mode();
    for (const group of [addressGroup, accountGroup, coordinatesGroup]) group.classList.toggle('hidden', group.dataset.mode !== current);
    errorSlots.get('location').control = current === 'address' ? address : current === 'account' ? account : lat;
  }

  function clearErrors() {
    replace(formError);
    for (const { slot } of errorSlots.values()) slot.textContent = '';
    for (const control of [channel, category, address, account, lat, lon, text, contact]) control.removeAttribute('aria-invalid');
  }

  function showIssues(issues) {
    const unplaced = [];
    let first;
    for (const issue of issues) {
      // "location.lat" has its own slot; a problem with the location as a whole goes under the location.
      const name = errorSlots.has(issue.field) ? issue.field : issue.field.startsWith('location') ? 'location' : undefined;
      if (name === undefined) {
        unplaced.push(`${issue.field}: ${issue.message}`);
        continue;
      }
      const { slot, control } = errorSlots.get(name);
      slot.textContent = slot.textContent === '' ? issue.message : `${slot.textContent}; ${issue.message}`;
      control.setAttribute('aria-invalid', 'true');
      first ??= control;
    }
    replace(formError, message('error', unplaced.length > 0 ? `The complaint was not stored: ${unplaced.join('; ')}` : 'The complaint was not stored: correct the marked fields.'));
    first?.focus();
  }

  function body() {
    const current = mode();
    let location;
    if (current === 'address') location = { address: address.value.trim() };
    else if (current === 'account') location = { account: account.value.trim() };
    else {
      // Numbers when they are numbers; otherwise the text as typed, for the server to name the field.
      const number = (input) => (input.value.trim() !== '' && Number.isFinite(Number(input.value)) ? Number(input.value) : input.value.trim());
      location = { lat: number(lat), lon: number(lon) };
    }
    const complaint = { channel: channel.value, category: category.value, location, text: text.value.trim() };
    if (contact.value.trim() !== '') complaint.contact = contact.value.trim();
    return complaint;
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearErrors();
    submit.disabled = true;
    submit.textContent = 'Submitting…';
    try {
      const response = await fetch('/api/v1/complaints', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(body()),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 401) {
        // The session ended: api() knows the way to the sign-in page.
        await api('/api/v1/auth/me');
        return;
      }
      if (!response.ok) throw new ApiError(response.status, answer);
      idempotencyKey = newKey();
      for (const input of [address, account, lat, lon, text, contact]) input.value = '';
      follow(answer, response.status === 200);
      recentPoller.refresh();
    } catch (error) {
      if (error instanceof ApiError && error.status === 400 && Array.isArray(error.body.issues)) showIssues(error.body.issues);
      else replace(formError, message('error', `The complaint was not stored: ${error.message}`));
    } finally {
      submit.disabled = false;
      submit.textContent = 'Submit complaint';
    }
  }

  /** Shows the stored complaint and keeps its verification current. */
  function follow(complaint, repeat) {
    followed = complaint;
    clearTimeout(followTimer);
    renderResult(repeat);
    const again = async () => {
      if (closed || followed?.id !== complaint.id) return;
      try {
        followed = await api(`/api/v1/complaints/${encodeURIComponent(complaint.id)}`);
        renderResult(repeat);
      } catch {
        // Kept showing what is known; the next round tries again.
      }
      if (followed.verification === 'pending' && !closed) followTimer = setTimeout(again, FOLLOW_MS);
    };
    if (complaint.verification === 'pending') followTimer = setTimeout(again, FOLLOW_MS);
  }

  function renderResult(repeat) {
    const complaint = followed;
    const placed =
      complaint.location_status === 'in_zone'
        ? h('span', { 'data-testid': 'complaint-zone' }, complaint.zone)
        : h('span', { class: 'chip warn', 'data-testid': 'complaint-zone' }, complaint.location_status === 'outside_zones' ? 'outside every zone' : 'location not found');
    replace(
      result,
      h(
        'section',
        { class: 'panel', 'data-complaint-id': complaint.id },
        h('h2', {}, repeat ? 'Already stored' : 'Complaint stored'),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Reference'),
          h('dd', { class: 'mono', 'data-testid': 'complaint-id' }, complaint.id),
          h('dt', {}, 'Zone'),
          h('dd', {}, placed),
          h('dt', {}, 'Verification'),
          h('dd', {}, verificationChip(complaint.verification), complaint.verification === 'pending' ? h('span', { class: 'muted' }, ' waiting for telemetry…') : null),
          complaint.incident_id ? [h('dt', {}, 'Incident'), h('dd', { class: 'mono' }, complaint.incident_id)] : null,
          h('dt', {}, 'Received'),
          h('dd', {}, formatDateTime(complaint.received_at)),
        ),
      ),
    );
  }

  const form = h(
    'form',
    { class: 'panel', 'data-testid': 'complaint-form', novalidate: true, onsubmit: onSubmit },
    h('h2', {}, 'New complaint'),
    h('div', { class: 'field-row' }, field('channel', 'Channel', channel), field('category', 'Category', category)),
    h('div', { class: 'field', 'data-field': 'location' }, h('label', {}, 'Location given as'), h('div', {}, modeRadios), locationSlot),
    addressGroup,
    accountGroup,
    coordinatesGroup,
    field('text', 'What the customer says', text),
    field('contact', 'Contact', contact),
    formError,
    h('div', { class: 'actions' }, submit),
  );

  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Complaint intake')),
    h('div', { class: 'columns wide-right' }, h('div', {}, form, result), h('section', { class: 'panel' }, h('div', { class: 'toolbar' }, h('h2', {}, 'Recent complaints'), h('span', { class: 'spacer' }), recentUpdated), recent)),
  );

  const recentPoller = poller(RECENT_REFRESH_MS, async () => {
    try {
      const answer = await api('/api/v1/complaints?limit=20');
      replace(
        recent,
        table(
          [{ label: 'Reported' }, { label: 'Category' }, { label: 'Verification' }, { label: 'Text' }],
          (answer.complaints ?? []).map((complaint) =>
            h(
              'tr',
              { 'data-testid': 'recent-complaint', 'data-id': complaint.id, 'data-verification': complaint.verification, class: followed?.id === complaint.id ? 'highlight' : '' },
              h('td', { class: 'nowrap' }, formatDateTime(complaint.reported_at), h('div', { class: 'muted' }, humanize(complaint.channel))),
              h('td', {}, humanize(complaint.category), h('div', { class: 'muted nowrap' }, complaint.zone ?? humanize(complaint.location_status))),
              h('td', {}, verificationChip(complaint.verification)),
              h('td', {}, complaint.text.length > 120 ? `${complaint.text.slice(0, 120)}…` : complaint.text),
            ),
          ),
          { testId: 'recent-complaints', empty: 'No complaints yet.' },
        ),
      );
      recentUpdated.textContent = `updated ${formatClock(Date.now())}`;
    } catch (error) {
      replace(recent, message('error', `Recent complaints could not be read: ${error.message}`));
    }
  });

  return () => {
    closed = true;
    clearTimeout(followTimer);
    recentPoller.stop();
  };
}
