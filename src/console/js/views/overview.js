// #/overview: the network by zone, refreshed every 10 s: each zone's current pressures and flows,
// and its alarm state from the open anomalies (a hydraulic anomaly is an alarm; a sensor fault
// only questions an instrument). Tags serving no one zone (pump station, trunk) form "Network".
import { api, poller } from '../api.js';
import { currentTimeZone, formatClock, formatNumber, formatRelative, h, humanize, message, replace } from '../dom.js';
import { siteTags } from '../site.js';

const REFRESH_MS = 10_000;
/** A value older than this is shown as stale. */
const STALE_MS = 5 * 60_000;
const SHOWN_KINDS = ['pressure', 'flow', 'level', 'pump_status', 'valve_position', 'chlorine'];

function reading(tag, latest, nowMs) {
  const sample = latest.get(tag.key);
  const stale = sample === undefined || nowMs - Date.parse(sample.time) > STALE_MS;
  const bad = sample !== undefined && (sample.quality === 'bad' || sample.value === null);
  let text = '—';
  if (sample !== undefined && !bad) text = tag.kind === 'pump_status' ? (sample.value ? 'RUN' : 'STOP') : formatNumber(sample.value, tag.kind === 'flow' ? 0 : 1);
  if (bad) text = 'BAD';
  return h(
    'tr',
    { class: `${stale ? 'stale' : ''} ${bad ? 'bad' : ''}`, 'data-tag': tag.key, title: sample === undefined ? 'no value yet' : `${sample.quality} at ${formatClock(sample.time)} (${formatRelative(sample.time, nowMs)})` },
    h('td', {}, h('span', { class: 'kind' }, humanize(tag.kind)), tag.name ?? tag.key),
    h('td', { class: 'value', 'data-testid': 'reading-value' }, text, tag.kind === 'pump_status' || bad || sample === undefined ? null : h('span', { class: 'unit' }, tag.unit)),
  );
}

function zoneCard(zone, zoneTags, anomalies, latest, nowMs) {
  const hydraulic = anomalies.filter((anomaly) => !anomaly.sensor_fault);
  const faults = anomalies.filter((anomaly) => anomaly.sensor_fault);
  const state = hydraulic.length > 0 ? 'alarm' : faults.length > 0 ? 'fault' : 'normal';
  const badge =
    state === 'alarm'
      ? h('span', { class: 'chip alarm' }, `ALARM ${hydraulic.length}`)
      : state === 'fault'
        ? h('span', { class: 'chip warn' }, `SENSOR FAULT ${faults.length}`)
        : h('span', { class: 'chip ok' }, 'NORMAL');
  const shown = zoneTags
    .filter((tag) => SHOWN_KINDS.includes(tag.kind) && !(tag.kind === 'pump_status' && tag.key.endsWith('.run')))
    .sort((left, right) => SHOWN_KINDS.indexOf(left.kind) - SHOWN_KINDS.indexOf(right.kind) || left.key.localeCompare(right.key));
  return h(
    'article',
    { class: `zone-card state-${state}`, 'data-testid': 'zone-card', 'data-zone': zone ?? 'network', 'data-alarm': state },
    h('header', {}, h('h2', {}, zone ?? 'Network'), badge),
    h('table', { class: 'readings' }, h('tbody', {}, shown.map((tag) => reading(tag, latest, nowMs)))),
    anomalies.length === 0
      ? null
      : h(
          'ul',
          { class: 'alarms' },
          anomalies.map((anomaly) =>
            h('li', { class: anomaly.sensor_fault ? 'fault' : 'alarm' }, h('strong', {}, humanize(anomaly.kind)), ` ${anomaly.tag} since ${formatClock(anomaly.start)}: `, anomaly.detail),
          ),
        ),
  );
}

export function overviewView(root) {
  const updated = h('span', { class: 'updated', 'data-testid': 'overview-updated' }, '');
  const errorBox = h('div');
  const grid = h('div', { class: 'zones', 'data-testid': 'zones' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(root, h('div', { class: 'view-head' }, h('h1', {}, 'Network overview'), updated), errorBox, grid);

  const refresh = poller(REFRESH_MS, async () => {
    try {
      const [tags, latestBody, anomalyBody] = await Promise.all([siteTags(), api('/api/v1/telemetry/latest'), api('/api/v1/anomalies?open=true&limit=1000')]);
      const nowMs = Date.now();
      const latest = new Map((Array.isArray(latestBody) ? latestBody : (latestBody?.latest ?? [])).map((sample) => [sample.tag, sample]));
      const anomalies = anomalyBody.anomalies ?? [];
      const zones = [...new Set(tags.map((tag) => tag.zone).filter((zone) => zone !== null))].sort();
      const cards = zones.map((zone) =>
        zoneCard(
          zone,
          tags.filter((tag) => tag.zone === zone),
          anomalies.filter((anomaly) => anomaly.zone === zone),
          latest,
          nowMs,
        ),
      );
      const network = tags.filter((tag) => tag.zone === null);
      if (network.length > 0) cards.push(zoneCard(null, network, anomalies.filter((anomaly) => anomaly.zone === null), latest, nowMs));
      replace(grid, cards);
      replace(errorBox);
      updated.textContent = `updated ${formatClock(nowMs)} (${currentTimeZone()}), every ${REFRESH_MS / 1000} s`;
    } catch (error) {
      replace(errorBox, message('error', `Could not refresh: ${error.message}`));
    }
  });
  return () => refresh.stop();
}
