// #/live: chosen tags on one chart, the last hour of 1-minute history first, then every sample as
// it arrives over Server-Sent Events. The chart element carries `data-points` (values plotted) and
// `data-live-points` (samples received live), updated on every draw, for tests and for the curious.
import uPlot from '/assets/uplot/uPlot.esm.js';
import { api, query as queryString } from '../api.js';
import { currentTimeZone, formatClock, formatNumber, h, humanize, message, replace, table } from '../dom.js';
import { siteTags } from '../site.js';

const WINDOW_S = 3600;
const MIN_WINDOW_S = 600;
const MAX_TAGS = 8;
const COLOURS = ['#4da3ff', '#ffb020', '#2ecc71', '#ff5c8a', '#b08cff', '#36d1dc', '#f7f06d', '#ff7a45'];
const REOPEN_AFTER_MS = 10_000;
const DRAW_EVERY_MS = 250;

/** A first choice when the URL names none: the pressures and inlet flow of the first zone that has them. */
function defaultSelection(tags) {
  const zones = [...new Set(tags.map((tag) => tag.zone).filter((zone) => zone !== null))].sort();
  for (const zone of zones) {
    const pressures = tags.filter((tag) => tag.zone === zone && tag.kind === 'pressure').slice(0, 2);
    if (pressures.length > 0) return [...pressures, ...tags.filter((tag) => tag.zone === zone && tag.kind === 'flow').slice(0, 1)].map((tag) => tag.key);
  }
  return tags.slice(0, 2).map((tag) => tag.key);
}

/** 14:05 on the time axis, in the site's time zone: the control room reads 24-hour clocks. */
function formatHourMinute(ms) {
  return formatClock(ms).slice(0, 5);
}

/** The data's range with a margin, never thinner than 2 % of its level (a flat line stays readable). */
function paddedRange(_plot, min, max) {
  if (min === null || max === null) return [0, 1];
  const span = Math.max(max - min, Math.abs(max) * 0.02, 0.1);
  const middle = (max + min) / 2;
  return [middle - span * 0.6, middle + span * 0.6];
}

export function liveView(root, { query }) {
  let closed = false;
  let tags = [];
  let selected = [];
  /** tag key → { times: seconds[], values: (number|null)[] } */
  let data = new Map();
  let plot;
  let source;
  let reopenTimer;
  let drawTimer;
  let selectionTimer;
  let liveCount = 0;
  let lastLiveAt;
  let generation = 0;

  const status = h('span', { 'data-testid': 'live-stream-state' }, 'starting');
  const countText = h('strong', { 'data-testid': 'live-count' }, '0');
  const lastText = h('strong', { 'data-testid': 'live-last' }, '—');
  const chart = h('div', { id: 'live-chart', class: 'chart', 'data-testid': 'live-chart', 'data-points': '0', 'data-live-points': '0', 'data-tags': '' });
  const notice = h('div');
  const values = h('div');
  const picker = h('aside', { class: 'panel tag-picker', 'data-testid': 'tag-picker', 'aria-label': 'Tags' }, h('p', { class: 'muted' }, 'Loading tags…'));
  replace(
    root,
    h('div', { class: 'view-head' }, h('h1', {}, 'Live telemetry'), h('span', { class: 'updated' }, `times in ${currentTimeZone()}`)),
    h(
      'div',
      { class: 'live-layout' },
      picker,
      h(
        'section',
        {},
        h('div', { class: 'live-status' }, h('span', {}, 'Stream: ', status), h('span', {}, 'Live points received: ', countText), h('span', {}, 'Last update: ', lastText)),
        notice,
        chart,
        h('h2', {}, 'Latest values'),
        values,
      ),
    ),
  );

  const resize = new ResizeObserver(() => plot?.setSize({ width: Math.max(200, chart.clientWidth), height: chartHeight() }));
  resize.observe(chart);

  function chartHeight() {
    return Math.max(260, Math.min(460, window.innerHeight - 330));
  }

  function tagInfo(key) {
    return tags.find((tag) => tag.key === key);
  }

  // ---- the picker ----

  function renderPicker() {
    const byZone = new Map();
    for (const tag of tags) {
      const zone = tag.zone ?? 'network';
      if (!byZone.has(zone)) byZone.set(zone, []);
      byZone.get(zone).push(tag);
    }
    const zones = [...byZone.keys()].sort((left, right) => (left === 'network' ? 1 : right === 'network' ? -1 : left.localeCompare(right)));
    replace(
      picker,
      h('p', { class: 'muted' }, `Up to ${MAX_TAGS} tags.`),
      zones.map((zone) =>
        h(
          'fieldset',
          {},
          h('legend', {}, zone === 'network' ? 'Network (no zone)' : zone),
          byZone.get(zone).map((tag) =>
            h(
              'label',
              { title: tag.name ?? tag.key },
              h('input', { type: 'checkbox', value: tag.key, checked: selected.includes(tag.key), 'data-testid': 'tag-option', 'data-tag': tag.key, onchange: onPick }),
              h('span', {}, tag.key),
              h('span', { class: 'unit' }, tag.unit),
            ),
          ),
        ),
      ),
    );
    limitPicker();
  }

  function limitPicker() {
    for (const box of picker.querySelectorAll('input[type="checkbox"]')) box.disabled = !box.checked && selected.length >= MAX_TAGS;
  }

  function onPick() {
    selected = [...picker.querySelectorAll('input[type="checkbox"]:checked')].map((box) => box.value);
    limitPicker();
    history.replaceState(null, '', `#/live${queryString({ tags: selected.join(',') })}`);
    clearTimeout(selectionTimer);
    selectionTimer = setTimeout(restart, 300);
  }

  // ---- data ----

  async function loadHistory(key, signalGeneration) {
    const toMs = Date.now();
    const fromMs = toMs - WINDOW_S * 1000;
    const body = await api(`/api/v1/telemetry${queryString({ tag: key, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), step: '1m' })}`);
    if (signalGeneration !== generation) return;
    const series = data.get(key);
    const times = [];
    const points = [];
    const buckets = body.buckets ?? [];
    // Leading empty minutes (a tag newer than the hour) are left out: the chart then fits the data it has.
    const first = buckets.findIndex((bucket) => bucket.count > 0);
    for (const bucket of first < 0 ? [] : buckets.slice(first)) {
      times.push(Date.parse(bucket.time) / 1000);
      points.push(bucket.count > 0 ? bucket.avg : null);
    }
    // Live samples that came in while history loaded go after it.
    for (let index = 0; index < series.times.length; index += 1) {
      if (series.times[index] > (times.at(-1) ?? -Infinity)) {
        times.push(series.times[index]);
        points.push(series.values[index]);
      }
    }
    series.times = times;
    series.values = points;
  }

  function addSample(sample) {
    const series = data.get(sample.tag);
    if (series === undefined) return;
    const time = Date.parse(sample.time) / 1000;
    if (!Number.isFinite(time)) return;
    const value = sample.quality === 'bad' || typeof sample.value !== 'number' ? null : sample.value;
    // Samples of one tag arrive in order; a late one is put in its place.
    let index = series.times.length;
    while (index > 0 && series.times[index - 1] > time) index -= 1;
    if (index > 0 && series.times[index - 1] === time) {
      series.values[index - 1] = value;
    } else {
      series.times.splice(index, 0, time);
      series.values.splice(index, 0, value);
    }
    series.latest = sample;
  }

  function trim() {
    const oldest = Date.now() / 1000 - WINDOW_S;
    for (const series of data.values()) {
      let cut = 0;
      while (cut < series.times.length && series.times[cut] < oldest) cut += 1;
      if (cut > 0) {
        series.times.splice(0, cut);
        series.values.splice(0, cut);
      }
    }
  }

  // ---- drawing ----

  function buildPlot() {
    plot?.destroy();
    plot = undefined;
    chart.replaceChildren();
    if (selected.length === 0) {
      chart.append(h('p', { class: 'muted' }, 'Choose one or more tags.'));
      return;
    }
    const units = [...new Set(selected.map((key) => tagInfo(key)?.unit ?? ''))];
    const axisStyle = { stroke: '#9aa7b4', grid: { stroke: '#232a33', width: 1 }, ticks: { stroke: '#2d3642', width: 1 } };
    const timeZone = currentTimeZone();
    plot = new uPlot(
      {
        width: Math.max(200, chart.clientWidth),
        height: chartHeight(),
        tzDate: (seconds) => uPlot.tzDate(new Date(seconds * 1000), timeZone),
        cursor: { drag: { x: true, y: false } },
        legend: { live: true },
        // At least ten minutes wide, so a tag with little history does not stretch a minute across the chart.
        scales: { x: { time: true, range: (_plot, min, max) => (min === null || max === null ? [Date.now() / 1000 - MIN_WINDOW_S, Date.now() / 1000] : [Math.min(min, max - MIN_WINDOW_S), max]) }, ...Object.fromEntries(units.map((unit) => [unit, { auto: true, range: paddedRange }])) },
        series: [
          { label: 'time', value: (_plot, seconds) => (seconds == null ? '—' : formatClock(seconds * 1000)) },
          ...selected.map((key, index) => ({
            label: key,
            scale: tagInfo(key)?.unit ?? '',
            stroke: COLOURS[index % COLOURS.length],
            width: 1.5,
            points: { show: false },
            value: (_plot, value) => (value == null ? '—' : `${formatNumber(value, 2)} ${tagInfo(key)?.unit ?? ''}`),
          })),
        ],
        axes: [
          { ...axisStyle, values: (_plot, splits) => splits.map((seconds) => (splits.length > 1 && splits[1] - splits[0] < 60 ? formatClock(seconds * 1000) : formatHourMinute(seconds * 1000))) },
          ...units.slice(0, 2).map((unit, index) => ({ ...axisStyle, scale: unit, label: unit, side: index === 0 ? 3 : 1, size: 60, grid: index === 0 ? axisStyle.grid : { show: false } })),
        ],
      },
      alignedData(),
      chart,
    );
  }

  function alignedData() {
    const tables = selected.map((key) => {
      const series = data.get(key);
      return [series.times, series.values];
    });
    if (tables.length === 0) return [[]];
    return tables.length === 1 ? [tables[0][0].slice(), tables[0][1].slice()] : uPlot.join(tables);
  }

  function scheduleDraw() {
    if (drawTimer !== undefined || closed) return;
    drawTimer = setTimeout(draw, DRAW_EVERY_MS);
  }

  function draw() {
    drawTimer = undefined;
    if (closed) return;
    trim();
    if (plot !== undefined) plot.setData(alignedData());
    let points = 0;
    for (const key of selected) points += data.get(key).values.filter((value) => value !== null).length;
    chart.dataset.points = String(points);
    chart.dataset.livePoints = String(liveCount);
    countText.textContent = formatNumber(liveCount, 0);
    lastText.textContent = lastLiveAt === undefined ? '—' : formatClock(lastLiveAt);
    renderValues();
  }

  function renderValues() {
    const rows = selected.map((key, index) => {
      const tag = tagInfo(key);
      const series = data.get(key);
      const latest = series.latest;
      let value = latest?.value ?? null;
      let time = latest?.time;
      if (latest === undefined) {
        const last = series.values.findLastIndex((candidate) => candidate !== null);
        value = last >= 0 ? series.values[last] : null;
        time = last >= 0 ? series.times[last] * 1000 : undefined;
      }
      return h(
        'tr',
        { 'data-tag': key },
        h('td', {}, h('span', { class: `swatch c${index % COLOURS.length}` }), key),
        h('td', {}, tag?.zone ?? '—'),
        h('td', {}, humanize(tag?.kind)),
        h('td', { class: 'number' }, value === null ? '—' : `${formatNumber(value, 2)} ${tag?.unit ?? ''}`),
        h('td', { class: 'nowrap' }, time === undefined ? '—' : formatClock(time)),
        h('td', {}, latest?.quality ?? (time === undefined ? '—' : '1-min average')),
      );
    });
    replace(
      values,
      table(
        [{ label: 'Tag' }, { label: 'Zone' }, { label: 'Kind' }, { label: 'Value', class: 'number' }, { label: 'Time' }, { label: 'Quality' }],
        rows,
        { testId: 'live-values', empty: 'No tags chosen.', tall: true },
      ),
    );
  }

  // ---- the stream ----

  function openStream() {
    clearTimeout(reopenTimer);
    source?.close();
    source = undefined;
    if (selected.length === 0 || closed) {
      status.textContent = 'idle';
      return;
    }
    const stream = new EventSource(`/api/v1/telemetry/stream${queryString({ tag: selected.join(',') })}`);
    source = stream;
    status.textContent = 'connecting';
    stream.addEventListener('open', () => {
      status.textContent = 'live';
      replace(notice);
    });
    stream.addEventListener('samples', (event) => {
      let batch;
      try {
        batch = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!Array.isArray(batch)) return;
      for (const sample of batch) addSample(sample);
      liveCount += batch.length;
      lastLiveAt = Date.now();
      scheduleDraw();
    });
    stream.addEventListener('dropped', (event) => {
      replace(notice, message('warn', `The stream skipped ${JSON.parse(event.data).events ?? 'some'} updates while this page lagged; the history has them.`));
    });
    stream.addEventListener('error', () => {
      if (stream !== source) return;
      if (stream.readyState === EventSource.CLOSED) {
        status.textContent = 'unavailable';
        replace(notice, message('warn', 'Live updates are unavailable right now; trying again shortly. The chart shows stored history.', 'live-unavailable'));
        reopenTimer = setTimeout(openStream, REOPEN_AFTER_MS);
      } else status.textContent = 'reconnecting';
    });
  }

  async function restart() {
    generation += 1;
    const current = generation;
    source?.close();
    source = undefined;
    liveCount = 0;
    lastLiveAt = undefined;
    data = new Map(selected.map((key) => [key, { times: [], values: [], latest: undefined }]));
    chart.dataset.tags = selected.join(',');
    buildPlot();
    draw();
    // Live first, so nothing between the history's end and the stream's start is missed.
    openStream();
    try {
      await Promise.all(selected.map((key) => loadHistory(key, current)));
    } catch (error) {
      if (current === generation) replace(notice, message('error', `History could not be read: ${error.message}`));
    }
    if (current !== generation || closed) return;
    draw();
  }

  (async () => {
    try {
      tags = await siteTags();
    } catch (error) {
      replace(picker, message('error', `Tags could not be read: ${error.message}`));
      return;
    }
    if (closed) return;
    const known = new Set(tags.map((tag) => tag.key));
    const asked = (query.get('tags') ?? '').split(',').filter((key) => known.has(key));
    selected = (asked.length > 0 ? asked : defaultSelection(tags)).slice(0, MAX_TAGS);
    renderPicker();
    restart();
  })();

  return () => {
    closed = true;
    generation += 1;
    clearTimeout(reopenTimer);
    clearTimeout(drawTimer);
    clearTimeout(selectionTimer);
    source?.close();
    resize.disconnect();
    plot?.destroy();
  };
}
