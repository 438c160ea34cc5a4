// Synthetic customer complaints from the simulated network's state: customers at junctions whose
// pressure falls below the service level (low pressure; no water near zero), or who live near an
// active burst or leak (they see water in the street), complain after a while on one of the
// channels, at most once per customer group per episode; unrelated complaints arrive elsewhere at
// a steady rate. Everything random comes from one seeded generator, so a seed and the same
// sequence of observations give the same complaints. Each complaint is the body the API accepts,
// plus `reported_at` in simulated time and the scenario it belongs to (the ground truth of
// correlation), which `toComplaintBody` strips before posting.
import { complaintSettingsSchema, type ComplaintSettings } from '../../src/contracts/scenario.js';
import type { ComplaintBody } from '../../src/contracts/complaint.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import type { NetworkElements } from '../hydraulics/hydraulic-model.js';
import type { SimTickListener } from '../hydraulics/sim-clock.js';
import type { RecordSink } from './ground-truth.js';
import { distanceM, offsetM, zoneAt } from '../../src/contracts/geometry.js';
import type { LatLon } from '../../src/contracts/site.js';
import { mulberry32 } from '../random.js';
import type { ActiveEventView } from './scenario-player.js';

type Channel = ComplaintBody['channel'];
type Category = ComplaintBody['category'];

/** A complaint as the simulator emits it: an API body plus the scenario it belongs to. */
export interface SyntheticComplaint {
  channel: Channel;
  category: Category;
  location: { lat: number; lon: number };
  text: string;
  external_id: string;
  /** ISO 8601, simulated time. */
  reported_at: string;
  /** The scenario whose incident caused it; null for unrelated complaints and pressure problems no scenario explains. */
  scenario_id: string | null;
}

export type ComplaintSink = RecordSink<SyntheticComplaint>;

/** The body to POST to /api/v1/complaints: the record without its ground truth. */
export function toComplaintBody(record: SyntheticComplaint): ComplaintBody {
  const { scenario_id: _scenarioId, ...body } = record;
  return body;
}

/** What the generator reads of the hydraulics (HydraulicModel has it). */
export interface NetworkState {
  elements(): NetworkElements;
  readElement(element: string, quantity: 'pressure'): number;
}

/** The incidents being played (ScenarioPlayer has it). */
export interface IncidentSource {
  activeEvents(): readonly ActiveEventView[];
}

export interface ComplaintGeneratorOptions {
  model: NetworkState;
  site: SiteConfig;
  seed: number;
  sink: ComplaintSink;
  /** A scenario file's `complaints` section; defaults otherwise. */
  settings?: ComplaintSettings;
  incidents?: IncidentSource;
  /** external_id is `<idPrefix>-<n>`; default `sim-<seed>`. Give each live run its own so the API's de-duplication keeps them apart. */
  idPrefix?: string;
}

/** Pressure must come back this far above the service level before an episode is over. */
const RECOVERY_MARGIN_M = 1;
/** Complaint locations scatter this far around their junction: customers live along the mains, not on the node. */
const JITTER_MIN_M = 5;
const JITTER_MAX_M = 40;
const MS_PER_HOUR = 3_600_000;
/** Incident kinds that change the hydraulics, to which a pressure problem can be attributed. */
const HYDRAULIC_KINDS = new Set(['leak', 'burst', 'pump_trip', 'valve_closure', 'tank_drain', 'demand_surge']);

const DEFAULT_CHANNEL_WEIGHTS: ReadonlyArray<readonly [Channel, number]> = [
  ['call_center', 35],
  ['whatsapp', 30],
  ['social_media', 15],
  ['web', 12],
  ['walk_in', 8],
];

const NOISE_CATEGORY_WEIGHTS: ReadonlyArray<readonly [Category, number]> = [
  ['water_quality', 35],
  ['other', 35],
  ['low_pressure', 15],
  ['leak_burst', 8],
  ['no_water', 7],
];

const TEXTS: Record<Category, readonly string[]> = {
  no_water: [
    'Air PDAM mati total di rumah saya ({zone}) sejak beberapa jam lalu. Mohon segera diperbaiki.',
    'Sudah lama air tidak keluar sama sekali di daerah {zone}. Kapan normal lagi?',
    'Kran kering, tidak ada air sama sekali. Lokasi {zone}.',
    'No water at all at my house in {zone}. Please tell us when it will be back.',
  ],
  low_pressure: [
    'Air kecil sekali, tidak bisa naik ke toren. Lokasi {zone}.',
    'Tekanan air sangat lemah di {zone}, tolong dicek.',
    'Aliran air cuma menetes dari tadi, daerah {zone}.',
    'Water pressure is very low in {zone}, barely a trickle from the tap.',
  ],
  leak_burst: [
    'Ada pipa bocor besar, air menyembur ke jalan di {zone}!',
    'Pipa pecah di dekat rumah saya, jalan tergenang air ({zone}).',
    'Air meluap dari bawah aspal di {zone}, sepertinya pipa utama bocor.',
    'A water main has burst on our street in {zone}, water everywhere.',
  ],
  water_quality: [
    'Air keruh dan berwarna kecoklatan di {zone}.',
    'Air berbau kaporit menyengat sejak kemarin ({zone}).',
    'Ada endapan pasir di air PDAM, daerah {zone}.',
    'The tap water in {zone} is cloudy and smells strange.',
  ],
  other: [
    'Tagihan bulan ini naik drastis, mohon meteran saya dicek ({zone}).',
    'Meteran air di depan rumah rusak, daerah {zone}.',
    'Petugas baca meter tidak datang bulan ini ({zone}).',
    'Please send someone to check my water meter in {zone}, it seems broken.',
  ],
};

export { mulberry32 } from '../random.js';

interface CustomerJunction {
  id: string;
  position: LatLon;
  zoneId: string;
  zoneName: string;
  customers: number;
  groups: number;
  episode: Episode | undefined;
}

interface Episode {
  cause: 'pressure' | 'witness';
  scenarioId: string | null;
  worstPressureM: number;
}

interface PendingComplaint {
  dueMs: number;
  sequence: number;
  junction: CustomerJunction;
  channel: Channel;
  scenarioId: string | null;
  /** Decided when it is sent: an episode's category follows its worst pressure so far. */
  category: Category | Episode;
}

export class ComplaintGenerator {
  private readonly settings: ComplaintSettings;
  private readonly random: () => number;
  private readonly junctions: CustomerJunction[];
  private readonly totalCustomers: number;
  private readonly channelWeights: ReadonlyArray<readonly [Channel, number]>;
  private readonly idPrefix: string;
  private readonly nodePositions = new Map<string, LatLon>();
  private pending: PendingComplaint[] = [];
  private sequence = 0;
  private emitted = 0;
  private lastObservedMs: number | undefined;

  constructor(private readonly options: ComplaintGeneratorOptions) {
    this.settings = options.settings ?? complaintSettingsSchema.parse({});
    this.random = mulberry32(options.seed);
    this.idPrefix = options.idPrefix ?? `sim-${options.seed}`;
    this.channelWeights =
      this.settings.channels !== undefined ? Object.entries(this.settings.channels).map(([channel, weight]) => [channel as Channel, weight ?? 0] as const) : DEFAULT_CHANNEL_WEIGHTS;

    // A zone's customers spread evenly over the junctions inside it; junctions outside every zone
    // (transmission mains, the pump station) serve nobody.
    const byZone = new Map<string, Array<{ id: string; position: LatLon }>>();
    for (const node of options.model.elements().nodes) {
      this.nodePositions.set(node.id, { lon: node.lon, lat: node.lat });
      if (node.kind !== 'junction') continue;
      const zoneId = zoneAt(node, options.site.zones)?.id ?? null;
      if (zoneId === null) continue;
      const members = byZone.get(zoneId) ?? [];
      members.push({ id: node.id, position: { lon: node.lon, lat: node.lat } });
      byZone.set(zoneId, members);
    }
    this.junctions = [];
    for (const zone of options.site.zones) {
      const members = byZone.get(zone.id) ?? [];
      if (zone.customers === 0 || members.length === 0) continue;
      const customers = zone.customers / members.length;
      const groups = Math.max(1, Math.round(customers / this.settings.customers_per_group));
      for (const member of members) this.junctions.push({ ...member, zoneId: zone.id, zoneName: zone.name, customers, groups, episode: undefined });
    }
    this.totalCustomers = this.junctions.reduce((sum, junction) => sum + junction.customers, 0);
  }

  /**
   * Looks at the network at simulated epoch `simTimeMs` (once the model has solved for it), starts
   * and ends episodes, and emits every complaint due by then, in time order. Call it each
   * simulated minute; more often is fine, never backwards.
   */
  observe(simTimeMs: number): void {
    if (this.lastObservedMs !== undefined && simTimeMs < this.lastObservedMs) {
      throw new RangeError(`complaint generator cannot observe ${new Date(simTimeMs).toISOString()}: it already observed ${new Date(this.lastObservedMs).toISOString()}`);
    }
    const incidents = this.options.incidents?.activeEvents() ?? [];
    const visible = this.visibleIncidents(incidents);
    for (const junction of this.junctions) this.observeJunction(junction, simTimeMs, incidents, visible);
    if (this.lastObservedMs !== undefined) this.scheduleNoise(this.lastObservedMs, simTimeMs);
    this.lastObservedMs = simTimeMs;
    this.emitDue(simTimeMs);
  }

  /** Complaints decided but not yet reported. */
  get pendingCount(): number {
    return this.pending.length;
  }

  private observeJunction(junction: CustomerJunction, nowMs: number, incidents: readonly ActiveEventView[], visible: ReadonlyArray<{ incident: ActiveEventView; position: LatLon }>): void {
    const pressureM = this.options.model.readElement(junction.id, 'pressure');
    const witnessed = this.nearestVisible(junction.position, visible);
    const episode = junction.episode;
    if (episode !== undefined) {
      episode.worstPressureM = Math.min(episode.worstPressureM, pressureM);
      if (witnessed === undefined && pressureM >= this.settings.service_level_m + RECOVERY_MARGIN_M) junction.episode = undefined;
      return;
    }
    if (witnessed !== undefined) {
      this.startEpisode(junction, nowMs, { cause: 'witness', scenarioId: witnessed.scenario, worstPressureM: pressureM }, this.settings.witness_probability);
    } else if (pressureM < this.settings.service_level_m) {
      this.startEpisode(junction, nowMs, { cause: 'pressure', scenarioId: this.attribute(junction, incidents), worstPressureM: pressureM }, this.settings.complaint_probability);
    }
  }

  private startEpisode(junction: CustomerJunction, nowMs: number, episode: Episode, probability: number): void {
    junction.episode = episode;
    for (let group = 0; group < junction.groups; group++) {
      if (this.random() >= probability) continue;
      const delayS = this.settings.delay_min_s + this.random() * (this.settings.delay_max_s - this.settings.delay_min_s);
      this.pending.push({
        dueMs: nowMs + Math.round(delayS * 1000),
        sequence: this.sequence++,
        junction,
        channel: this.pick(this.channelWeights),
        scenarioId: episode.scenarioId,
        category: episode,
      });
    }
  }

  /** The scenario most likely behind a pressure problem: an incident in the same zone, else a network-wide one, else any; the latest wins. */
  private attribute(junction: CustomerJunction, incidents: readonly ActiveEventView[]): string | null {
    const hydraulic = incidents.filter((incident) => HYDRAULIC_KINDS.has(incident.kind));
    const candidates = [
      hydraulic.filter((incident) => incident.zone === junction.zoneId),
      hydraulic.filter((incident) => incident.zone === null),
      hydraulic,
    ].find((group) => group.length > 0);
    if (candidates === undefined) return null;
    return candidates.reduce((latest, incident) => (incident.startMs > latest.startMs ? incident : latest)).scenario;
  }

  private visibleIncidents(incidents: readonly ActiveEventView[]): Array<{ incident: ActiveEventView; position: LatLon }> {
    const out: Array<{ incident: ActiveEventView; position: LatLon }> = [];
    for (const incident of incidents) {
      const position = incident.junction === null ? undefined : this.nodePositions.get(incident.junction);
      if (position !== undefined) out.push({ incident, position });
    }
    return out;
  }

  private nearestVisible(position: LatLon, visible: ReadonlyArray<{ incident: ActiveEventView; position: LatLon }>): ActiveEventView | undefined {
    let nearest: ActiveEventView | undefined;
    let nearestM = Infinity;
    for (const candidate of visible) {
      const metres = distanceM(position, candidate.position);
      if (metres <= this.settings.leak_radius_m && metres < nearestM) {
        nearest = candidate.incident;
        nearestM = metres;
      }
    }
    return nearest;
  }

  /** A Poisson stream of unrelated complaints over (fromMs, toMs], from customers not already affected. */
  private scheduleNoise(fromMs: number, toMs: number): void {
    if (this.settings.noise_per_hour === 0 || toMs <= fromMs || this.totalCustomers === 0) return;
    const count = poisson((this.settings.noise_per_hour * (toMs - fromMs)) / MS_PER_HOUR, this.random);
    for (let index = 0; index < count; index++) {
      const dueMs = fromMs + Math.max(1, Math.round(this.random() * (toMs - fromMs)));
      const junction = this.pickCustomerJunction();
      this.pending.push({ dueMs, sequence: this.sequence++, junction, channel: this.pick(this.channelWeights), scenarioId: null, category: this.pick(NOISE_CATEGORY_WEIGHTS) });
    }
  }

  private pickCustomerJunction(): CustomerJunction {
    const unaffected = this.junctions.filter((junction) => junction.episode === undefined);
    const pool = unaffected.length > 0 ? unaffected : this.junctions;
    return this.pick(pool.map((junction) => [junction, junction.customers] as const));
  }

  private emitDue(nowMs: number): void {
    const due = this.pending.filter((complaint) => complaint.dueMs <= nowMs).sort((a, b) => a.dueMs - b.dueMs || a.sequence - b.sequence);
    if (due.length === 0) return;
    this.pending = this.pending.filter((complaint) => complaint.dueMs > nowMs);
    for (const complaint of due) this.options.sink.write(this.render(complaint));
  }

  private render(complaint: PendingComplaint): SyntheticComplaint {
    const category = typeof complaint.category === 'string' ? complaint.category : this.categoryOf(complaint.category);
    const location = offsetM(complaint.junction.position, JITTER_MIN_M + this.random() * (JITTER_MAX_M - JITTER_MIN_M), this.random() * 2 * Math.PI);
    const templates = TEXTS[category];
    const template = templates[Math.floor(this.random() * templates.length)] ?? templates[0]!;
    this.emitted += 1;
    return {
      channel: complaint.channel,
      category,
      location: { lat: round(location.lat, 6), lon: round(location.lon, 6) },
      text: template.replaceAll('{zone}', complaint.junction.zoneName),
      external_id: `${this.idPrefix}-${this.emitted}`,
      reported_at: new Date(complaint.dueMs).toISOString(),
      scenario_id: complaint.scenarioId,
    };
  }

  private categoryOf(episode: Episode): Category {
    if (episode.cause === 'witness') return 'leak_burst';
    return episode.worstPressureM <= this.settings.no_water_m ? 'no_water' : 'low_pressure';
  }

  private pick<T>(weighted: ReadonlyArray<readonly [T, number]>): T {
    const total = weighted.reduce((sum, [, weight]) => sum + weight, 0);
    let draw = this.random() * total;
    for (const [item, weight] of weighted) {
      draw -= weight;
      if (draw < 0 && weight > 0) return item;
    }
    const last = [...weighted].reverse().find(([, weight]) => weight > 0) ?? weighted[weighted.length - 1];
    if (last === undefined) throw new RangeError('cannot pick from an empty list');
    return last[0];
  }
}

/** Calls `generator.observe` after the model has solved, once per simulated `intervalS` (default a minute). Returns its removal. */
export function observeEachInterval(plant: { onAfterAdvance(listener: SimTickListener): () => void }, generator: ComplaintGenerator, intervalS = 60): () => void {
  let nextS: number | undefined;
  return plant.onAfterAdvance((tick) => {
    if (nextS !== undefined && tick.simTimeS < nextS) return;
    generator.observe(tick.nowMs);
    nextS = (Math.floor(tick.simTimeS / intervalS) + 1) * intervalS;
  });
}

// Knuth's method, in slices small enough that e^-λ stays representable.
function poisson(mean: number, random: () => number): number {
  let count = 0;
  for (let remaining = mean; remaining > 0; remaining -= 30) {
    const limit = Math.exp(-Math.min(30, remaining));
    let product = random();
    while (product > limit) {
      count += 1;
      product *= random();
    }
  }
  return count;
}

function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
}
