// Pump trips. pump_status tags are grouped by pump: the model element they are bound to, else
// their id without its last dot-separated part (ps.pump1.run and ps.pump1.running are pump
// ps.pump1). In a group, a run command is a tag on a coil or holding register, or whose last id
// part is run, cmd, command or start; the other tags are running feedbacks. A value of 0.5 or
// more is running (stored history holds 5-minute means).
//
// A trip: a feedback falls from running to stopped and stays stopped for `pump_trip.grace_ms`,
// and at the end of that grace the group's run command is still 1 (an operator's stop withdraws
// the command first). A pump with no command tag (or no command sample yet) trips whenever a
// running feedback stops, with lower confidence. The trip starts when the feedback fell and is
// confirmed at the end of the grace; it ends when the feedback runs again or the command is
// withdrawn. The command is another tag, so every decision waits until the watermark is past the
// grace: only then is every command sample up to it known, however samples interleave.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import type { Tag } from '../../contracts/site.js';
import type { AnomalyLedger, OpenAnomaly } from './anomaly-ledger.js';
import type { TagInfo } from './tag-info.js';

const CONFIDENCE_WITH_COMMAND = 0.9;
const CONFIDENCE_WITHOUT_COMMAND = 0.6;
const COMMAND_HISTORY = 16;
const COMMAND_PARTS = new Set(['run', 'cmd', 'command', 'start', 'run_cmd', 'run_command']);

/** A run command's recent changes, to know its value at a past moment. */
export class CommandHistory {
  private readonly times = new Float64Array(COMMAND_HISTORY);
  private readonly running = new Uint8Array(COMMAND_HISTORY);
  private size = 0;
  private next = 0;

  observe(timeMs: number, running: boolean): void {
    if (this.size > 0 && this.running[(this.next + COMMAND_HISTORY - 1) % COMMAND_HISTORY] === (running ? 1 : 0)) return;
    this.times[this.next] = timeMs;
    this.running[this.next] = running ? 1 : 0;
    this.next = (this.next + 1) % COMMAND_HISTORY;
    this.size = Math.min(this.size + 1, COMMAND_HISTORY);
  }

  /** The command at `timeMs`; null when unknown (no sample at or before it in the history kept). */
  valueAt(timeMs: number): boolean | null {
    for (let back = 1; back <= this.size; back += 1) {
      const slot = (this.next + COMMAND_HISTORY - back) % COMMAND_HISTORY;
      if (this.times[slot]! <= timeMs) return this.running[slot] === 1;
    }
    return null;
  }

  /** The first withdrawal of the command after `afterMs` and before `beforeMs`, or null. */
  firstStopBetween(afterMs: number, beforeMs: number): number | null {
    for (let forward = this.size; forward >= 1; forward -= 1) {
      const slot = (this.next + COMMAND_HISTORY - forward) % COMMAND_HISTORY;
      const time = this.times[slot]!;
      if (time > afterMs && time < beforeMs && this.running[slot] === 0) return time;
    }
    return null;
  }

  reset(): void {
    this.size = 0;
  }
}

export class PumpFeedback {
  private wasRunning: boolean | null = null;
  private fellAtMs = 0;
  private graceEndMs = Number.POSITIVE_INFINITY;
  private ranAgainAtMs: number | null = null;
  private open: OpenAnomaly | null = null;

  constructor(
    private readonly tag: TagInfo,
    private readonly pump: string,
    private readonly command: CommandHistory | null,
    private readonly settings: DetectionSettings['pump_trip'],
    private readonly ledger: AnomalyLedger,
  ) {}

  /** One trusted sample of the feedback. */
  observe(timeMs: number, value: number): void {
    const running = value >= 0.5;
    if (running && this.graceEndMs !== Number.POSITIVE_INFINITY && timeMs < this.graceEndMs) this.graceEndMs = Number.POSITIVE_INFINITY;
    else if (running && (this.open !== null || this.graceEndMs !== Number.POSITIVE_INFINITY)) this.ranAgainAtMs ??= timeMs;
    if (!running && this.wasRunning === true && this.open === null && this.graceEndMs === Number.POSITIVE_INFINITY) {
      this.fellAtMs = timeMs;
      this.graceEndMs = timeMs + this.settings.grace_ms;
      this.ranAgainAtMs = null;
    }
    this.wasRunning = running;
  }

  /**
   * The watermark moved to `watermarkMs`: every sample before it is known. Confirms a trip whose
   * grace has passed, and ends an open one at the earliest known of: the feedback running again,
   * the command withdrawn.
   */
  advanceTo(watermarkMs: number): void {
    if (this.graceEndMs < watermarkMs) {
      const graceEndMs = this.graceEndMs;
      this.graceEndMs = Number.POSITIVE_INFINITY;
      const commanded = this.command === null ? null : this.command.valueAt(graceEndMs);
      if (commanded === false) {
        this.ranAgainAtMs = null;
        return;
      }
      const detail = commanded === null ? `${this.pump} stopped (${this.tag.id} fell to 0)` : `${this.pump} stopped while commanded to run (${this.tag.id} fell to 0)`;
      this.open = this.ledger.openAnomaly(
        { kind: 'pump_trip', tag: this.tag.id, zone: this.tag.zone, startMs: this.fellAtMs, magnitude: 1, unit: this.tag.unit, confidence: commanded === null ? CONFIDENCE_WITHOUT_COMMAND : CONFIDENCE_WITH_COMMAND, detail },
        graceEndMs,
      );
    }
    if (this.open === null) return;
    const confirmedMs = this.open.anomaly.startMs + this.settings.grace_ms;
    const ranAgainMs = this.ranAgainAtMs !== null && this.ranAgainAtMs < watermarkMs ? this.ranAgainAtMs : Number.POSITIVE_INFINITY;
    const withdrawnMs = this.command?.firstStopBetween(confirmedMs, Math.min(watermarkMs, ranAgainMs)) ?? Number.POSITIVE_INFINITY;
    const endMs = Math.min(ranAgainMs, withdrawnMs);
    if (endMs === Number.POSITIVE_INFINITY) return;
    this.ledger.close(this.open, endMs, endMs);
    this.open = null;
    this.ranAgainAtMs = null;
  }

  /**
   * A sensor fault on the feedback: what ran before it says nothing about a stop after it. A trip
   * already under way stands (it was decided from good samples; the fault does not undo it).
   */
  suppress(): void {
    this.wasRunning = null;
  }

  reset(): void {
    this.open = null;
    this.ranAgainAtMs = null;
    this.graceEndMs = Number.POSITIVE_INFINITY;
    this.wasRunning = null;
  }

}

/** Pump name of a pump_status tag. */
export function pumpOf(tag: Pick<Tag, 'id' | 'model'>): string {
  if (tag.model !== undefined) return tag.model.element;
  const cut = tag.id.lastIndexOf('.');
  return cut > 0 ? tag.id.slice(0, cut) : tag.id;
}

export function isRunCommand(tag: Pick<Tag, 'id' | 'modbus'>): boolean {
  if (tag.modbus !== undefined) return tag.modbus.table === 'coil' || tag.modbus.table === 'holding_register';
  return COMMAND_PARTS.has(tag.id.slice(tag.id.lastIndexOf('.') + 1).toLowerCase());
}
