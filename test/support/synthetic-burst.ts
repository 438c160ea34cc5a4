// A small recorded day for engine tests, built from formulas rather than the hydraulic model: one
// DMA with an inlet flow meter and two pressure loggers, a diurnal demand pattern with seeded noise,
// a burst at a known time (inlet flow up, pressures down below their alarm limit), the complaints
// that follow it, and one unrelated complaint in another zone.
import { mulberry32 } from '../../simulators/random.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import type { ReplayComplaint } from '../../src/replay/complaints-jsonl.js';

export const SYNTHETIC_START_MS = Date.UTC(2026, 2, 2, 0, 0, 0);
export const BURST_AT_MS = SYNTHETIC_START_MS + 34 * 3_600_000;
const STEP_MS = 60_000;
const DURATION_MS = 40 * 3_600_000;

export function syntheticSite(): SiteConfig {
  const square = (lon: number, lat: number) => ({ type: 'Polygon', coordinates: [[[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.015], [lon, lat + 0.015], [lon, lat]]] });
  return siteConfigSchema.parse({
    site: { id: 'synthetic', name: 'Synthetic town' },
    zones: [
      { id: 'dma-a', name: 'DMA A', customers: 3000, boundary: square(107.6, -6.9), critical_customers: [{ name: 'City Hospital', kind: 'hospital', location: { lat: -6.893, lon: 107.61 } }], inlet_tags: ['a.inlet.flow'] },
      { id: 'dma-b', name: 'DMA B', customers: 2000, boundary: square(107.64, -6.9) },
    ],
    tags: [
      { id: 'a.inlet.flow', kind: 'flow', unit: 'm3/h', zone: 'dma-a', location: { lat: -6.899, lon: 107.601 }, range: { min: 0, max: 2000 } },
      { id: 'a.pressure.1', kind: 'pressure', unit: 'm', zone: 'dma-a', location: { lat: -6.893, lon: 107.608 }, range: { min: 0, max: 100 }, alarms: { lolo: 5, lo: 15, deadband: 1, on_delay_s: 120, off_delay_s: 300 } },
      { id: 'a.pressure.2', kind: 'pressure', unit: 'm', zone: 'dma-a', location: { lat: -6.889, lon: 107.615 }, range: { min: 0, max: 100 }, alarms: { lolo: 5, lo: 15, deadband: 1, on_delay_s: 120, off_delay_s: 300 } },
    ],
  });
}

/** Rows of `time,tag,value,quality` in time order, and the CSV text of them. */
export function syntheticTelemetry(seed = 7): { rows: Array<{ timeMs: number; tag: string; value: number }>; csv: string } {
  const random = mulberry32(seed);
  const rows: Array<{ timeMs: number; tag: string; value: number }> = [];
  for (let timeMs = SYNTHETIC_START_MS; timeMs < SYNTHETIC_START_MS + DURATION_MS; timeMs += STEP_MS) {
    const hour = ((timeMs - SYNTHETIC_START_MS) / 3_600_000) % 24;
    const demand = 0.6 + 0.4 * Math.max(0, Math.sin(((hour - 5) / 24) * 2 * Math.PI));
    const burst = timeMs >= BURST_AT_MS ? 1 : 0;
    const noise = () => (random() - 0.5) * 2;
    rows.push({ timeMs, tag: 'a.inlet.flow', value: round(300 * demand + burst * 250 + noise() * 5) });
    rows.push({ timeMs, tag: 'a.pressure.1', value: round(38 - 8 * demand - burst * 28 + noise() * 0.3) });
    rows.push({ timeMs, tag: 'a.pressure.2', value: round(35 - 8 * demand - burst * 24 + noise() * 0.3) });
  }
  const csv = ['time,tag,value,quality', ...rows.map((row) => `${new Date(row.timeMs).toISOString()},${row.tag},${row.value},good`)].join('\n');
  return { rows, csv: `${csv}\n` };
}

/** Eight complaints about the burst (two from one caller), then one unrelated complaint in DMA B. */
export function syntheticComplaints(): ReplayComplaint[] {
  const about = (index: number, minutes: number, category: ReplayComplaint['category'], contact: string): ReplayComplaint => ({
    id: `c-${index}`,
    channel: index % 2 === 0 ? 'call_center' : 'whatsapp',
    category,
    location: { lat: -6.892 + index * 0.0005, lon: 107.607 + index * 0.0005 },
    text: 'no water since the pipe burst',
    contact,
    external_id: `c-${index}`,
    reported_at: new Date(BURST_AT_MS + minutes * 60_000).toISOString(),
  });
  return [
    about(1, 6, 'no_water', '+62811000001'),
    about(2, 9, 'leak_burst', '+62811000002'),
    about(3, 12, 'no_water', '+62811000003'),
    about(4, 15, 'low_pressure', '+62811000004'),
    about(5, 18, 'no_water', '+62811000005'),
    about(6, 24, 'no_water', '+62811000001'),
    about(7, 31, 'leak_burst', '+62811000006'),
    about(8, 45, 'low_pressure', '+62811000007'),
    { id: 'c-9', channel: 'web', category: 'water_quality', location: { lat: -6.892, lon: 107.65 }, text: 'water smells odd', contact: '+62811000009', external_id: 'c-9', reported_at: new Date(BURST_AT_MS - 3 * 3_600_000).toISOString() },
  ];
}

const round = (value: number) => Math.round(value * 1000) / 1000;
