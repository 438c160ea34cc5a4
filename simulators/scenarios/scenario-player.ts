// Plays scenarios into the simulated plant: when simulated time reaches an event's start it is
// applied to the hydraulic model (emitter, pump held off, link closed, demand multiplier), to the
// plant's readings (sensor fault) or to a PLC's link (offline), and after its duration it is
// reverted. Every applied event is written to the ground truth. Several scenarios may play at
// once, added while the plant runs; overlapping events on one element combine (emitters add,
// demand factors multiply, a pump or link stays held while any event holds it).
//
// Ordering contract: call `advance(tick.simTimeS)` on each clock tick BEFORE `model.advanceTo`
// for the same time (`attach()` does this through the plant's before-advance hook). An event due
// at or before a tick is then part of the model's solution for that tick. Leak and burst records
// carry their measured outflow, so they are written at the next `advance`, once the model has
// solved with them; every other record is written when its event is applied.
import { type Scenario, type ScenarioEvent, type ScenarioEventKind, type ScenarioEventOf } from '../../src/contracts/scenario.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import type { NetworkElements } from '../hydraulics/hydraulic-model.js';
import type { HydraulicPlant, SensorFault } from '../plant/hydraulic-plant.js';
import type { GroundTruthRecord, GroundTruthSink } from './ground-truth.js';
import { zoneAt } from '../../src/contracts/geometry.js';
import type { LatLon } from '../../src/contracts/site.js';

/** The port through which a scenario takes a simulated PLC off its network and back. */
export interface PlcLinks {
  setOffline(deviceId: string, offline: boolean): void | Promise<void>;
}

/** An event being played, as the complaint generator and status pages see it. */
export interface ActiveEventView {
  scenario: string;
  event: string;
  kind: ScenarioEventKind;
  zone: string | null;
  /** The junction of a leak or burst; null for other kinds. */
  junction: string | null;
  /** Simulated epoch milliseconds. */
  startMs: number;
}

/** What a scenario's element names are checked against. */
export interface ScenarioContext {
  elements: NetworkElements;
  site: SiteConfig;
}

export interface ScenarioPlayerOptions {
  plant: HydraulicPlant;
  site: SiteConfig;
  plcLinks: PlcLinks;
  groundTruth: GroundTruthSink;
  /** Where an asynchronous PLC link change failed; without it the rejection is left unhandled. */
  onPortError?: (error: unknown, context: { scenario: string; event: string; device: string; offline: boolean }) => void;
}

export interface AddScenarioOptions {
  /** Simulated seconds the scenario's offsets count from; default: the time of the last `advance`. */
  startSimTimeS?: number;
  /** Names the scenario in errors, usually its file; default `scenario <id>`. */
  source?: string;
}

const VISIBLE_KINDS: ReadonlySet<ScenarioEventKind> = new Set(['leak', 'burst']);

/** The model's own rule for `setDemandMultiplier`: zone `dma-N` is junctions `J-DN-*`, anything else a prefix. */
function demandPrefixOf(zone: string): string {
  const district = /^dma-(\d+)$/i.exec(zone);
  return district !== null ? `J-D${district[1]}-` : zone;
}

/**
 * Every reason the scenario cannot play on this network and site: unknown or wrong-kind
 * junctions, pumps, valves, tags, devices and zones, by path (`events[2].junction`).
 */
export function validateScenario(scenario: Scenario, context: ScenarioContext): ConfigIssue[] {
  const nodes = new Map(context.elements.nodes.map((node) => [node.id, node]));
  const links = new Map(context.elements.links.map((link) => [link.id, link]));
  const tags = new Set(context.site.tags.map((tag) => tag.id));
  const devices = new Set(context.site.devices.map((device) => device.id));
  const zones = new Set(context.site.zones.map((zone) => zone.id));
  const issues: ConfigIssue[] = [];
  const report = (index: number, field: string, message: string): void => {
    issues.push({ path: `events[${index}].${field}`, message });
  };
  const checkPump = (index: number, field: string, pump: string): void => {
    const link = links.get(pump);
    if (link === undefined) report(index, field, `unknown pump "${pump}" in the hydraulic model`);
    else if (link.kind !== 'pump') report(index, field, `"${pump}" is a ${link.kind}, not a pump`);
  };
  scenario.events.forEach((event, index) => {
    switch (event.kind) {
      case 'leak':
      case 'burst': {
        const node = nodes.get(event.junction);
        if (node === undefined) report(index, 'junction', `unknown junction "${event.junction}" in the hydraulic model`);
        else if (node.kind !== 'junction') report(index, 'junction', `"${event.junction}" is a ${node.kind}, not a junction`);
        break;
      }
      case 'pump_trip':
        checkPump(index, 'pump', event.pump);
        break;
      case 'tank_drain':
        event.pumps.forEach((pump, position) => checkPump(index, `pumps[${position}]`, pump));
        break;
      case 'valve_closure': {
        const link = links.get(event.valve);
        if (link === undefined) report(index, 'valve', `unknown valve "${event.valve}" in the hydraulic model`);
        else if (link.kind === 'pump') report(index, 'valve', `"${event.valve}" is a pump: use pump_trip`);
        break;
      }
      case 'sensor_fault':
        if (!tags.has(event.tag)) report(index, 'tag', `unknown tag "${event.tag}" in the site config`);
        break;
      case 'plc_offline':
        if (!devices.has(event.device)) report(index, 'device', `unknown device "${event.device}" in the site config`);
        break;
      case 'demand_surge': {
        if (event.zone === 'all') break;
        if (!zones.has(event.zone)) {
          report(index, 'zone', `unknown zone "${event.zone}" in the site config (or use "all")`);
          break;
        }
        const prefix = demandPrefixOf(event.zone);
        if (!context.elements.nodes.some((node) => node.kind === 'junction' && node.id.startsWith(prefix))) {
          report(index, 'zone', `zone "${event.zone}" has no junctions named ${prefix}* in the hydraulic model`);
        }
        break;
      }
    }
  });
  return issues;
}

interface EventRun {
  readonly scenario: Scenario;
  readonly event: ScenarioEvent;
  readonly startS: number;
  readonly endS: number | null;
  state: 'pending' | 'active' | 'done';
  record: GroundTruthRecord | undefined;
  /** The model's time when the event was applied: its effect is in the solutions after it. */
  appliedAtModelS: number;
}

interface Hold {
  holders: Set<EventRun>;
  /** Whether the pump ran, or the link was open, before the first hold: restored after the last. */
  wasOn: boolean;
}

interface Transition {
  timeS: number;
  /** Reverts sort before applies at the same time: one event hands over to the next cleanly. */
  order: 0 | 1;
  sequence: number;
  run: EventRun;
}

export class ScenarioPlayer {
  private readonly plant: HydraulicPlant;
  private readonly site: SiteConfig;
  private readonly plcLinks: PlcLinks;
  private readonly groundTruth: GroundTruthSink;
  private readonly onPortError: ScenarioPlayerOptions['onPortError'];
  private readonly elements: NetworkElements;
  private readonly nodeZones = new Map<string, string | null>();
  private readonly nodePositions = new Map<string, LatLon>();
  private readonly runs: EventRun[] = [];
  private readonly awaitingOutflow: EventRun[] = [];
  private readonly emitters = new Map<string, Set<EventRun>>();
  private readonly pumpHolds = new Map<string, Hold>();
  private readonly linkClosures = new Map<string, Hold>();
  private readonly surges = new Set<EventRun>();
  private readonly faultStacks = new Map<string, EventRun[]>();
  private readonly offlineDevices = new Map<string, Set<EventRun>>();
  /** The last link change per device, so an asynchronous port sees its calls in order. */
  private readonly plcQueues = new Map<string, Promise<void>>();
  private readonly pendingPortCalls = new Set<Promise<void>>();
  private lastSimTimeS: number;

  constructor(options: ScenarioPlayerOptions) {
    this.plant = options.plant;
    this.site = options.site;
    this.plcLinks = options.plcLinks;
    this.groundTruth = options.groundTruth;
    this.onPortError = options.onPortError;
    this.elements = this.plant.model.elements();
    for (const node of this.elements.nodes) {
      this.nodePositions.set(node.id, { lon: node.lon, lat: node.lat });
      this.nodeZones.set(node.id, zoneAt(node, this.site.zones)?.id ?? null);
    }
    this.lastSimTimeS = this.plant.model.timeS;
  }

  /** Validates the scenario against the network and site, then schedules its events. */
  add(scenario: Scenario, options: AddScenarioOptions = {}): void {
    const source = options.source ?? `scenario ${scenario.id}`;
    const issues = validateScenario(scenario, { elements: this.elements, site: this.site });
    if (this.running().includes(scenario.id)) issues.push({ path: 'id', message: `scenario "${scenario.id}" is already playing; stop it first or give this one another id` });
    if (issues.length > 0) throw new ConfigError(source, issues);
    const startSimTimeS = options.startSimTimeS ?? this.lastSimTimeS;
    for (const event of scenario.events) {
      const startS = startSimTimeS + event.atS;
      this.runs.push({ scenario, event, startS, endS: event.durationS === null ? null : startS + event.durationS, state: 'pending', record: undefined, appliedAtModelS: 0 });
    }
  }

  /** Applies events due by `simTimeS` and reverts those that have ended, in time order. Call before model.advanceTo(simTimeS). */
  advance(simTimeS: number): void {
    if (!(simTimeS >= this.lastSimTimeS)) throw new RangeError(`scenario time cannot go back: asked for ${simTimeS} s after ${this.lastSimTimeS} s`);
    this.lastSimTimeS = simTimeS;
    this.writeAwaitingOutflow();
    const transitions: Transition[] = [];
    for (const run of this.runs) {
      if (run.state === 'pending' && run.startS <= simTimeS) transitions.push({ timeS: run.startS, order: 1, sequence: transitions.length, run });
      if (run.state !== 'done' && run.endS !== null && run.endS <= simTimeS) transitions.push({ timeS: run.endS, order: 0, sequence: transitions.length, run });
    }
    transitions.sort((a, b) => a.timeS - b.timeS || a.order - b.order || a.sequence - b.sequence);
    for (const transition of transitions) {
      if (transition.order === 1) this.apply(transition.run);
      else this.revert(transition.run);
    }
    this.growLeaks(simTimeS);
    this.forgetFinished();
  }

  /** Registers `advance` on the plant's before-advance hook; returns its removal. */
  attach(): () => void {
    return this.plant.onBeforeAdvance((tick) => this.advance(tick.simTimeS));
  }

  /**
   * Ends a scenario now: events not yet started never start; active ones are reverted and their
   * ground truth written again with the actual end.
   */
  stop(scenarioId: string, simTimeS: number = this.lastSimTimeS): void {
    this.writeAwaitingOutflow();
    for (const run of this.runs) {
      if (run.scenario.id !== scenarioId || run.state === 'done') continue;
      if (run.state === 'pending') {
        run.state = 'done';
        continue;
      }
      this.revert(run);
      if (run.record !== undefined && (run.endS === null || run.endS > simTimeS)) this.groundTruth.write({ ...run.record, end: this.isoAt(Math.max(simTimeS, run.startS)) });
    }
    this.forgetFinished();
  }

  /** Stops every scenario, as at the end of a run. */
  stopAll(simTimeS: number = this.lastSimTimeS): void {
    for (const id of this.running()) this.stop(id, simTimeS);
  }

  /** Ids of scenarios with events still to start or still active. */
  running(): string[] {
    return [...new Set(this.runs.filter((run) => run.state !== 'done').map((run) => run.scenario.id))];
  }

  activeEvents(): ActiveEventView[] {
    return this.runs
      .filter((run) => run.state === 'active')
      .map((run) => ({
        scenario: run.scenario.id,
        event: run.event.id,
        kind: run.event.kind,
        zone: this.zoneOf(run.event),
        junction: VISIBLE_KINDS.has(run.event.kind) ? (run.event as ScenarioEventOf<'leak' | 'burst'>).junction : null,
        startMs: this.epochMsAt(run.startS),
      }));
  }

  /** Resolves once every PLC link change so far has completed (or failed and been reported). */
  async settled(): Promise<void> {
    while (this.pendingPortCalls.size > 0) await Promise.allSettled([...this.pendingPortCalls]);
  }

  private apply(run: EventRun): void {
    const { event } = run;
    const model = this.plant.model;
    let size: Record<string, unknown> = {};
    switch (event.kind) {
      case 'leak':
      case 'burst': {
        size = { coefficient_m3h_per_sqrt_m: event.coefficient, ...(event.kind === 'leak' ? { growth_per_hour: event.growth_per_hour } : {}) };
        this.holdIn(this.emitters, event.junction, run);
        this.updateEmitter(event.junction, run.startS);
        break;
      }
      case 'pump_trip':
        this.holdPump(event.pump, run);
        break;
      case 'tank_drain':
        for (const pump of event.pumps) this.holdPump(pump, run);
        break;
      case 'valve_closure': {
        const hold = this.linkClosures.get(event.valve);
        if (hold === undefined) {
          this.linkClosures.set(event.valve, { holders: new Set([run]), wasOn: model.readElement(event.valve, 'status') === 1 });
          model.setLinkOpen(event.valve, false);
        } else hold.holders.add(run);
        break;
      }
      case 'demand_surge':
        size = { factor: event.factor };
        this.surges.add(run);
        this.updateDemandMultipliers();
        break;
      case 'sensor_fault': {
        size = { fault: event.fault, ...(event.rate_per_hour !== undefined ? { rate_per_hour: event.rate_per_hour } : {}), ...(event.magnitude !== undefined ? { magnitude: event.magnitude } : {}) };
        const stack = this.faultStacks.get(event.tag) ?? [];
        stack.push(run);
        this.faultStacks.set(event.tag, stack);
        this.plant.setFault(event.tag, sensorFaultOf(event), this.epochMsAt(run.startS));
        break;
      }
      case 'plc_offline': {
        const holders = this.offlineDevices.get(event.device);
        if (holders === undefined) {
          this.offlineDevices.set(event.device, new Set([run]));
          this.setPlcOffline(run, event.device, true);
        } else holders.add(run);
        break;
      }
    }
    run.state = 'active';
    run.appliedAtModelS = model.timeS;
    run.record = {
      scenario: run.scenario.id,
      event: event.id,
      kind: event.kind,
      where: this.whereOf(event),
      zone: this.zoneOf(event),
      start: this.isoAt(run.startS),
      end: run.endS === null ? null : this.isoAt(run.endS),
      size,
    };
    if (VISIBLE_KINDS.has(event.kind)) this.awaitingOutflow.push(run);
    else this.groundTruth.write(run.record);
  }

  /** Writes leak and burst records with their outflow (m3/h) in the model's latest solution. */
  private writeAwaitingOutflow(only?: EventRun): void {
    for (const run of [...this.awaitingOutflow]) {
      if (only !== undefined && run !== only) continue;
      this.awaitingOutflow.splice(this.awaitingOutflow.indexOf(run), 1);
      const event = run.event as ScenarioEventOf<'leak' | 'burst'>;
      const solved = this.plant.model.timeS > run.appliedAtModelS;
      // The emitter law: outflow = coefficient × √pressure, at the pressure the outflow itself has lowered.
      const outflowM3h = solved ? emitterCoefficient(run, this.plant.model.timeS) * Math.sqrt(Math.max(0, this.plant.model.readElement(event.junction, 'pressure'))) : null;
      run.record = { ...run.record!, size: { ...run.record!.size, outflow_m3h: outflowM3h === null ? null : Math.round(outflowM3h * 10) / 10 } };
      this.groundTruth.write(run.record);
    }
  }

  private revert(run: EventRun): void {
    if (run.state !== 'active') {
      run.state = 'done';
      return;
    }
    // Reverted before the model ever solved with it (started and ended within one tick): no outflow to measure.
    if (this.awaitingOutflow.includes(run)) this.writeAwaitingOutflow(run);
    run.state = 'done';
    const { event } = run;
    const model = this.plant.model;
    switch (event.kind) {
      case 'leak':
      case 'burst':
        this.releaseIn(this.emitters, event.junction, run);
        this.updateEmitter(event.junction, run.endS ?? this.lastSimTimeS);
        break;
      case 'pump_trip':
        this.releasePump(event.pump, run);
        break;
      case 'tank_drain':
        for (const pump of event.pumps) this.releasePump(pump, run);
        break;
      case 'valve_closure': {
        const hold = this.linkClosures.get(event.valve);
        hold?.holders.delete(run);
        if (hold !== undefined && hold.holders.size === 0) {
          this.linkClosures.delete(event.valve);
          model.setLinkOpen(event.valve, hold.wasOn);
          model.restoreAutomatic(event.valve);
        }
        break;
      }
      case 'demand_surge':
        this.surges.delete(run);
        this.updateDemandMultipliers();
        break;
      case 'sensor_fault': {
        const stack = (this.faultStacks.get(event.tag) ?? []).filter((other) => other !== run);
        const previous = stack[stack.length - 1];
        if (previous === undefined) {
          this.faultStacks.delete(event.tag);
          this.plant.clearFault(event.tag);
        } else {
          // An earlier fault on the same tag that is still active shows again.
          this.faultStacks.set(event.tag, stack);
          this.plant.setFault(event.tag, sensorFaultOf(previous.event as ScenarioEventOf<'sensor_fault'>), this.epochMsAt(previous.startS));
        }
        break;
      }
      case 'plc_offline': {
        const holders = this.offlineDevices.get(event.device);
        holders?.delete(run);
        if (holders !== undefined && holders.size === 0) {
          this.offlineDevices.delete(event.device);
          this.setPlcOffline(run, event.device, false);
        }
        break;
      }
    }
  }

  private holdPump(pump: string, run: EventRun): void {
    const hold = this.pumpHolds.get(pump);
    if (hold !== undefined) {
      hold.holders.add(run);
      return;
    }
    this.pumpHolds.set(pump, { holders: new Set([run]), wasOn: this.plant.model.readElement(pump, 'status') === 1 });
    this.plant.model.setPumpRunning(pump, false);
  }

  // A pump comes back as it was and under its level controls again, which stop it at once if
  // the tank no longer calls for it.
  private releasePump(pump: string, run: EventRun): void {
    const hold = this.pumpHolds.get(pump);
    if (hold === undefined) return;
    hold.holders.delete(run);
    if (hold.holders.size > 0) return;
    this.pumpHolds.delete(pump);
    this.plant.model.setPumpRunning(pump, hold.wasOn);
    this.plant.model.restoreAutomatic(pump);
  }

  private holdIn(holds: Map<string, Set<EventRun>>, key: string, run: EventRun): void {
    const holders = holds.get(key) ?? new Set<EventRun>();
    holders.add(run);
    holds.set(key, holders);
  }

  private releaseIn(holds: Map<string, Set<EventRun>>, key: string, run: EventRun): void {
    const holders = holds.get(key);
    holders?.delete(run);
    if (holders !== undefined && holders.size === 0) holds.delete(key);
  }

  private updateEmitter(junction: string, simTimeS: number): void {
    let coefficient = 0;
    for (const run of this.emitters.get(junction) ?? []) coefficient += emitterCoefficient(run, simTimeS);
    this.plant.model.setEmitter(junction, coefficient);
  }

  private growLeaks(simTimeS: number): void {
    for (const [junction, holders] of this.emitters) {
      if ([...holders].some((run) => run.event.kind === 'leak' && run.event.growth_per_hour > 0)) this.updateEmitter(junction, simTimeS);
    }
  }

  // The model's multipliers replace rather than compound, so the whole set is written again:
  // `all` first, then each surging zone at the product of its own factors and the network's.
  private updateDemandMultipliers(): void {
    let networkFactor = 1;
    const zoneFactors = new Map<string, number>();
    for (const run of this.surges) {
      const surge = run.event as ScenarioEventOf<'demand_surge'>;
      if (surge.zone === 'all') networkFactor *= surge.factor;
      else zoneFactors.set(surge.zone, (zoneFactors.get(surge.zone) ?? 1) * surge.factor);
    }
    this.plant.model.setDemandMultiplier('all', networkFactor);
    for (const [zone, factor] of zoneFactors) this.plant.model.setDemandMultiplier(zone, networkFactor * factor);
  }

  private setPlcOffline(run: EventRun, device: string, offline: boolean): void {
    const context = { scenario: run.scenario.id, event: run.event.id, device, offline };
    const queued = this.plcQueues.get(device);
    // A synchronous port is called at once; after an asynchronous call, the next waits its turn.
    const call = (): void | Promise<void> => this.plcLinks.setOffline(device, offline);
    const result = queued === undefined ? call() : queued.then(call);
    if (!(result instanceof Promise)) return;
    const tracked: Promise<void> = result.then(
      () => undefined,
      (error: unknown) => {
        if (this.onPortError === undefined) throw error;
        this.onPortError(error, context);
      },
    );
    const settledCall = tracked.finally(() => {
      this.pendingPortCalls.delete(settledCall);
      if (this.plcQueues.get(device) === queueEntry) this.plcQueues.delete(device);
    });
    const queueEntry = tracked.catch(() => undefined);
    this.plcQueues.set(device, queueEntry);
    this.pendingPortCalls.add(settledCall);
  }

  private whereOf(event: ScenarioEvent): Record<string, unknown> {
    switch (event.kind) {
      case 'leak':
      case 'burst': {
        const position = this.nodePositions.get(event.junction);
        return { junction: event.junction, ...(position !== undefined ? { lat: position.lat, lon: position.lon } : {}) };
      }
      case 'pump_trip':
        return { pump: event.pump };
      case 'tank_drain':
        return { pumps: [...event.pumps] };
      case 'valve_closure':
        return { valve: event.valve };
      case 'sensor_fault': {
        const tag = this.site.tags.find((candidate) => candidate.id === event.tag);
        return { tag: event.tag, ...(tag?.model !== undefined ? { element: tag.model.element } : {}) };
      }
      case 'plc_offline':
        return { device: event.device };
      case 'demand_surge':
        return { zone: event.zone };
    }
  }

  private zoneOf(event: ScenarioEvent): string | null {
    switch (event.kind) {
      case 'leak':
      case 'burst':
        return this.nodeZones.get(event.junction) ?? null;
      case 'valve_closure': {
        // A valve feeding a zone belongs to the zone it feeds.
        const link = this.elements.links.find((candidate) => candidate.id === event.valve);
        if (link === undefined) return null;
        return this.nodeZones.get(link.toNodeId) ?? this.nodeZones.get(link.fromNodeId) ?? null;
      }
      case 'sensor_fault': {
        const tag = this.site.tags.find((candidate) => candidate.id === event.tag);
        if (tag === undefined) return null;
        if (tag.zone !== undefined) return tag.zone;
        if (tag.location !== undefined) return zoneAt(tag.location, this.site.zones)?.id ?? null;
        return tag.model !== undefined ? (this.nodeZones.get(tag.model.element) ?? null) : null;
      }
      case 'plc_offline': {
        // A PLC serving one zone belongs to it; one serving several belongs to none.
        const zones = new Set(this.site.tags.filter((tag) => tag.device === event.device).map((tag) => tag.zone ?? null));
        return zones.size === 1 ? ([...zones][0] ?? null) : null;
      }
      case 'demand_surge':
        return event.zone === 'all' ? null : event.zone;
      case 'pump_trip':
      case 'tank_drain':
        return null;
    }
  }

  private forgetFinished(): void {
    for (let index = this.runs.length - 1; index >= 0; index--) {
      const run = this.runs[index]!;
      if (run.state === 'done' && !this.runs.some((other) => other.scenario === run.scenario && other.state !== 'done')) this.runs.splice(index, 1);
    }
  }

  private epochMsAt(simTimeS: number): number {
    return this.plant.clock.startEpochMs + simTimeS * 1000;
  }

  private isoAt(simTimeS: number): string {
    return new Date(this.epochMsAt(simTimeS)).toISOString();
  }
}

function emitterCoefficient(run: EventRun, simTimeS: number): number {
  const event = run.event as ScenarioEventOf<'leak' | 'burst'>;
  if (event.kind === 'burst' || event.growth_per_hour === 0) return event.coefficient;
  const elapsedHours = Math.max(0, simTimeS - run.startS) / 3600;
  return event.coefficient * (1 + event.growth_per_hour * elapsedHours);
}

function sensorFaultOf(event: ScenarioEventOf<'sensor_fault'>): SensorFault {
  switch (event.fault) {
    case 'stuck':
      return { kind: 'stuck' };
    case 'drift':
      return { kind: 'drift', ratePerHour: event.rate_per_hour ?? 0 };
    case 'spike':
      return { kind: 'spike', magnitude: event.magnitude ?? 0 };
    case 'dropout':
      return { kind: 'dropout' };
  }
}
