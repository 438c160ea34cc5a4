// The streaming detectors of a site, on event time: each sample goes through its tag's sensor
// checks, and when it can be trusted, on to the tag's hydraulic detectors (alarm limits, pressure
// drop, flow profile and slow leak, night flow, pump trip). The watermark (`advanceTo`) fires what
// time alone decides: gaps, on- and off-delays, complete flow steps and nights, pump trips. Every
// event depends only on each tag's samples in order, never on the wall clock or on when
// `advanceTo` is called: a deadline fires at its own event time, before any sample at or after it.
// README.md beside this file states every rule and its default.
import type { Anomaly, AnomalyEvent, EngineSample } from '../../contracts/anomaly.js';
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import type { SiteConfig, Tag } from '../../contracts/site.js';
import { AnomalyLedger } from './anomaly-ledger.js';
import { FlowMonitor } from './flow-monitor.js';
import { FlowProfile } from './flow-profile.js';
import { LimitAlarm } from './limit-alarm.js';
import { LocalTime } from './local-time.js';
import { NightFlowZone } from './night-flow.js';
import { PressureDrop } from './pressure-drop.js';
import { CommandHistory, PumpFeedback, isRunCommand, pumpOf } from './pump-trip.js';
import { SensorHealth } from './sensor-health.js';
import type { TagInfo } from './tag-info.js';

interface TagState {
  readonly info: TagInfo;
  readonly health: SensorHealth;
  alarms: LimitAlarm[];
  drop: PressureDrop | null;
  readonly flow: FlowMonitor | null;
  readonly feedback: PumpFeedback | null;
  readonly command: CommandHistory | null;
  /** The earliest event time at which one of the tag's detectors has something to fire. */
  deadlineMs: number;
}

export interface DetectorCounters {
  /** Every sample given to `observe`. */
  samples: number;
  /** Samples not newer than their tag's previous one, ignored. */
  outOfOrder: number;
  /** Samples of tags not in the site config, ignored. */
  unknownTags: number;
}

export class DetectorBank {
  readonly counters: DetectorCounters = { samples: 0, outOfOrder: 0, unknownTags: 0 };
  private readonly settings: DetectionSettings;
  private readonly ledger: AnomalyLedger;
  private readonly tags = new Map<string, TagState>();
  private readonly states: TagState[] = [];
  private readonly feedbacks: PumpFeedback[] = [];
  private readonly nightZones: NightFlowZone[] = [];
  private watermarkMs = Number.NEGATIVE_INFINITY;

  constructor(site: SiteConfig) {
    this.settings = site.detection;
    this.ledger = new AnomalyLedger(this.settings.reporting.update_growth);
    const localTime = new LocalTime(site.site.timezone);
    const tagsById = new Map(site.tags.map((tag) => [tag.id, tag]));

    const inletZone = new Map<string, string>();
    const nightZoneOfInlet = new Map<string, NightFlowZone>();
    for (const zone of site.zones) {
      const inlets = zone.inlet_tags.filter((id) => tagsById.has(id));
      if (inlets.length === 0) continue;
      const nightZone = new NightFlowZone(zone.id, inlets, tagsById.get(inlets[0]!)!.unit, this.settings.night_flow, this.settings.reporting.confidence_full_ms, this.ledger);
      this.nightZones.push(nightZone);
      for (const id of inlets) {
        if (!inletZone.has(id)) inletZone.set(id, zone.id);
        if (!nightZoneOfInlet.has(id)) nightZoneOfInlet.set(id, nightZone);
      }
    }
    const commands = commandTags(site.tags);

    for (const tag of site.tags) {
      const info: TagInfo = { id: tag.id, kind: tag.kind, unit: tag.unit, zone: tag.zone ?? inletZone.get(tag.id) ?? null, range: tag.range ?? null, alarms: tag.alarms ?? null };
      const command = tag.kind === 'pump_status' && commands.get(pumpOf(tag))?.id === tag.id ? new CommandHistory() : null;
      const state: TagState = {
        info,
        health: new SensorHealth(info, this.settings.sensor, this.ledger, (startMs) => this.suppress(state, startMs)),
        alarms: LimitAlarm.forTag(info, this.settings, this.ledger),
        drop: this.pressureDropFor(info),
        flow: tag.kind === 'flow' ? new FlowMonitor(info, new FlowProfile(this.settings.flow_profile), this.settings, localTime, this.ledger, nightZoneOfInlet.get(tag.id) ?? null) : null,
        feedback: null,
        command,
        deadlineMs: Number.POSITIVE_INFINITY,
      };
      this.tags.set(tag.id, state);
      this.states.push(state);
    }
    for (const tag of site.tags) {
      if (tag.kind !== 'pump_status' || this.tags.get(tag.id)!.command !== null) continue;
      const commandTag = commands.get(pumpOf(tag));
      const feedback = new PumpFeedback(this.tags.get(tag.id)!.info, pumpOf(tag), commandTag === undefined ? null : this.tags.get(commandTag.id)!.command, this.settings.pump_trip, this.ledger);
      (this.tags.get(tag.id)! as { feedback: PumpFeedback | null }).feedback = feedback;
      this.feedbacks.push(feedback);
    }
  }

  /** Learn baselines (flow profile, night flow) from stored history, oldest first, before live data. Emits nothing. */
  learn(samples: Iterable<EngineSample>): void {
    this.ledger.reporting = false;
    try {
      for (const sample of samples) {
        const state = this.tags.get(sample.tag);
        if (state === undefined || !(sample.timeMs > state.health.lastMs)) continue;
        this.apply(state, sample);
      }
    } finally {
      // What history left open or half done is not carried into live data; the baselines are.
      this.ledger.forget();
      for (const state of this.states) {
        state.health.reset();
        state.alarms = LimitAlarm.forTag(state.info, this.settings, this.ledger);
        state.drop = this.pressureDropFor(state.info);
        state.flow?.reset();
        state.feedback?.reset();
        state.command?.reset();
        state.deadlineMs = Number.POSITIVE_INFINITY;
      }
      for (const zone of this.nightZones) zone.reset();
      this.ledger.reporting = true;
    }
  }

  /** One sample. Samples of one tag arrive in time order; an older or equal-time sample for a tag is ignored and counted. Unknown tags are ignored and counted. */
  observe(sample: EngineSample): AnomalyEvent[] {
    this.counters.samples += 1;
    const state = this.tags.get(sample.tag);
    if (state === undefined) {
      this.counters.unknownTags += 1;
      return [];
    }
    if (!(sample.timeMs > state.health.lastMs)) {
      this.counters.outOfOrder += 1;
      return [];
    }
    this.apply(state, sample);
    return this.ledger.takeEvents();
  }

  /** The event-time watermark moved to timeMs (no sample will come earlier): fires time-based rules such as data gaps and off-delays. */
  advanceTo(timeMs: number): AnomalyEvent[] {
    if (!(timeMs > this.watermarkMs)) return [];
    this.watermarkMs = timeMs;
    for (const state of this.states) if (timeMs >= state.deadlineMs) this.settle(state, timeMs);
    for (const feedback of this.feedbacks) feedback.advanceTo(timeMs);
    return this.ledger.takeEvents();
  }

  openAnomalies(): Anomaly[] {
    return this.ledger.openAnomalies();
  }

  private apply(state: TagState, sample: EngineSample): void {
    const { timeMs, value, quality } = sample;
    if (timeMs >= state.deadlineMs) this.settle(state, timeMs);
    if (state.health.observe(timeMs, value, quality)) {
      for (const alarm of state.alarms) alarm.observe(timeMs, value);
      state.drop?.observe(timeMs, value);
      state.flow?.observe(timeMs, value, quality === 0);
      state.feedback?.observe(timeMs, value);
      state.command?.observe(timeMs, value >= 0.5);
    }
    state.deadlineMs = deadlineOf(state);
  }

  private settle(state: TagState, timeMs: number): void {
    state.health.settle(timeMs);
    for (const alarm of state.alarms) alarm.settle(timeMs);
    state.flow?.settle(timeMs);
    state.deadlineMs = deadlineOf(state);
  }

  /** A sensor fault opened on the tag: its hydraulic anomalies end, and its detectors start over. */
  private suppress(state: TagState, startMs: number): void {
    for (const alarm of state.alarms) alarm.suppress(startMs);
    state.drop?.suppress(startMs);
    state.flow?.suppress(startMs);
    state.feedback?.suppress();
  }

  private pressureDropFor(info: TagInfo): PressureDrop | null {
    return info.kind === 'pressure' ? new PressureDrop(info, this.settings.pressure_drop, this.settings.reporting.confidence_full_ms, this.ledger) : null;
  }
}

function deadlineOf(state: TagState): number {
  let deadlineMs = state.health.deadlineMs;
  for (const alarm of state.alarms) if (alarm.deadlineMs < deadlineMs) deadlineMs = alarm.deadlineMs;
  if (state.flow !== null) deadlineMs = Math.min(deadlineMs, state.flow.deadlineMs);
  return deadlineMs;
}

/** The run command tag of each pump that has one (the first, if several). */
function commandTags(tags: readonly Tag[]): Map<string, Tag> {
  const pumps = new Map<string, Tag[]>();
  for (const tag of tags) {
    if (tag.kind !== 'pump_status') continue;
    const pump = pumpOf(tag);
    pumps.set(pump, [...(pumps.get(pump) ?? []), tag]);
  }
  const commands = new Map<string, Tag>();
  for (const [pump, members] of pumps) {
    const command = members.find(isRunCommand);
    // A pump with only command-like tags has no feedback to trip on: its tags are watched as feedback.
    if (command !== undefined && members.some((tag) => !isRunCommand(tag))) commands.set(pump, command);
  }
  return commands;
}
