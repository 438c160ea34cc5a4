// The simulated plant's physics: an EPANET extended-period hydraulic solver (epanet-js) stepped
// forward in simulated time, read element by element for tag values and changed by operator
// commands and injected faults (pump trips, valve moves, bursts as emitters, demand surges).
// Units at this boundary are the project's: m, m3/h, m/s, seconds of simulated time.
import { readFile } from 'node:fs/promises';
import { Project, Workspace } from 'epanet-js';

// epanet-js 0.9's typings use extensionless relative imports, which do not resolve under
// NodeNext: its classes arrive as `any` and its enums not at all. This narrow port types what
// the model uses, and the toolkit codes below are EPANET's own (stable across 2.2 and 2.3).
interface EpanetProject {
  open(inputFile: string, reportFile: string, binaryFile: string): void;
  close(): void;
  getCount(countType: number): number;
  getFlowUnits(): number;
  getNodeId(index: number): string;
  getNodeType(index: number): number;
  getNodeValue(index: number, property: number): number;
  setNodeValue(index: number, property: number, value: number): void;
  getCoordinates(index: number): { x: number; y: number };
  getNumberOfDemands(nodeIndex: number): number;
  getBaseDemand(nodeIndex: number, demandIndex: number): number;
  setBaseDemand(nodeIndex: number, demandIndex: number, baseDemand: number): void;
  getLinkId(index: number): string;
  getLinkType(index: number): number;
  getLinkNodes(index: number): { node1: number; node2: number };
  getLinkValue(index: number, property: number): number;
  setLinkValue(index: number, property: number, value: number): void;
  getVertexCount(index: number): number;
  getVertex(index: number, vertex: number): { x: number; y: number };
  getTimeParameter(parameter: number): number;
  setTimeParameter(parameter: number, value: number): void;
  openH(): void;
  initH(initFlag: number): void;
  runH(): number;
  nextH(): number;
  closeH(): void;
  getControl(index: number): { linkIndex: number };
  getControlEnabled(index: number): number;
  setControlEnabled(index: number, enabled: number): void;
  getRule(index: number): { thenActionCount: number; elseActionCount: number };
  getThenAction(ruleIndex: number, actionIndex: number): { linkIndex: number };
  getElseAction(ruleIndex: number, actionIndex: number): { linkIndex: number };
  getRuleEnabled(index: number): number;
  setRuleEnabled(index: number, enabled: number): void;
}

interface EpanetWorkspace {
  loadModule(): Promise<void>;
  writeFile(path: string, data: string): void;
}

const CountType = { NodeCount: 0, LinkCount: 2, ControlCount: 5, RuleCount: 6 } as const;
const NodeProperty = { Elevation: 0, Emitter: 3, Demand: 9, Head: 10, Pressure: 11 } as const;
const LinkProperty = { InitSetting: 5, Flow: 8, Velocity: 9, Status: 11, Setting: 12 } as const;
const TimeParameter = { Duration: 0, HydStep: 1, PatternStart: 4, ReportStep: 5 } as const;
const InitHydOption = { NoSave: 0 } as const;
const FlowUnits = { LPS: 5, LPM: 6, MLD: 7, CMH: 8, CMD: 9, CMS: 10 } as const;

export type ElementQuantity = 'pressure' | 'head' | 'demand' | 'flow' | 'velocity' | 'level' | 'status' | 'setting';

export type NodeKind = 'junction' | 'reservoir' | 'tank';
export type LinkKind = 'pipe' | 'cv_pipe' | 'pump' | 'prv' | 'psv' | 'pbv' | 'fcv' | 'tcv' | 'gpv';

export interface Coordinates {
  lon: number;
  lat: number;
}

export interface NodeElement extends Coordinates {
  id: string;
  kind: NodeKind;
  elevationM: number;
}

export interface LinkElement {
  id: string;
  kind: LinkKind;
  fromNodeId: string;
  toNodeId: string;
  /** From node, vertices, to node. */
  path: Coordinates[];
}

export interface NetworkElements {
  nodes: NodeElement[];
  links: LinkElement[];
}

export interface HydraulicWarning {
  /** EPANET warning code (1 to 6: unbalanced, unstable, disconnected, pump, valve, pressure). */
  code: number;
  message: string;
  simTimeS: number;
}

export interface HydraulicModelOptions {
  /** Seed of the demand noise: the same seed and the same commands give the same values. */
  seed?: number;
  /** Half-width of the uniform demand noise, as a fraction of demand (0.03 = ±3 %); 0 turns it off. */
  demandNoiseFraction?: number;
  /** Simulated seconds between fresh noise draws. */
  demandNoiseIntervalS?: number;
  /** Longest solver step; the .inp's hydraulic timestep when absent. */
  hydraulicStepS?: number;
  /** Where in the demand patterns simulated time 0 falls (demo-town: pattern hour 0 is Monday 00:00). */
  patternStartS?: number;
  /** How far the model can run; patterns repeat, so this only bounds the run. */
  durationS?: number;
  /** Called with each solver warning; warnings are also kept (see `warnings()`). */
  onWarning?: (warning: HydraulicWarning) => void;
}

export type HydraulicModelErrorCode =
  | 'unknown_element'
  | 'not_applicable'
  | 'time_reversal'
  | 'duration_exceeded'
  | 'solver_failed'
  | 'unsupported_units'
  | 'bad_argument'
  | 'closed';

export class HydraulicModelError extends Error {
  constructor(
    readonly code: HydraulicModelErrorCode,
    message: string,
    readonly element?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class UnknownElementError extends HydraulicModelError {
  constructor(element: string, expected: string) {
    super('unknown_element', `unknown ${expected} "${element}" in the hydraulic model`, element);
  }
}

const DEFAULT_DURATION_S = 10 * 365 * 86_400;
const KEPT_WARNINGS = 100;

// m3/h per model flow unit. Only SI models: US units would also change pressure and head units.
const M3H_PER_FLOW_UNIT = new Map<number, number>([
  [FlowUnits.LPS, 3.6],
  [FlowUnits.LPM, 0.06],
  [FlowUnits.MLD, 1000 / 24],
  [FlowUnits.CMH, 1],
  [FlowUnits.CMD, 1 / 24],
  [FlowUnits.CMS, 3600],
]);

// Indexed by EPANET's link and node type codes.
const LINK_KINDS: readonly LinkKind[] = ['cv_pipe', 'pipe', 'pump', 'prv', 'psv', 'pbv', 'fcv', 'tcv', 'gpv'];
const NODE_KINDS: readonly NodeKind[] = ['junction', 'reservoir', 'tank'];

const isValve = (kind: LinkKind): boolean => kind !== 'pipe' && kind !== 'cv_pipe' && kind !== 'pump';

interface NodeEntry {
  index: number;
  kind: NodeKind;
}

interface LinkEntry {
  index: number;
  kind: LinkKind;
}

interface JunctionDemand {
  index: number;
  id: string;
  baseDemand: number;
  multiplier: number;
}

/**
 * Demand noise from a counter-based generator: the draw depends only on the seed, the junction
 * and the time bucket, so slicing the same run into different advanceTo calls gives equal values.
 */
export function demandNoiseUnit(seed: number, junctionIndex: number, bucket: number): number {
  const mix = (value: number): number => {
    let h = value >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  let h = mix(seed ^ 0x9e3779b9);
  h = mix(h + Math.imul(junctionIndex, 0x9e3779b1));
  h = mix(h + Math.imul(bucket, 0x7feb352d));
  return h / 4294967296;
}

// One WebAssembly engine serves every model in the process; each model is its own EN project.
let sharedWorkspace: Promise<EpanetWorkspace> | undefined;
let inpFileSequence = 0;

function workspace(): Promise<EpanetWorkspace> {
  sharedWorkspace ??= (async () => {
    const loaded: EpanetWorkspace = new Workspace();
    await loaded.loadModule();
    return loaded;
  })();
  return sharedWorkspace;
}

export class HydraulicModel {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly links = new Map<string, LinkEntry>();
  private readonly junctionDemands: JunctionDemand[] = [];
  /** Last commanded setting of each valve, so reopening a valve resumes regulating at it. */
  private readonly valveSettings = new Map<number, number>();
  /** Controls and rules switched off while a link is under manual command. */
  private readonly suspendedAutomation = new Map<number, { controls: number[]; rules: number[] }>();
  private readonly keptWarnings: HydraulicWarning[] = [];
  private readonly m3hPerFlowUnit: number;
  private readonly seed: number;
  private readonly noiseFraction: number;
  private readonly noiseIntervalS: number;
  private readonly maximumStepS: number;
  private currentStepS: number;
  private solvedTimeS = 0;
  private solverSteps = 0;
  private warningTotal = 0;
  private demandsDirty = true;
  private open = true;

  private constructor(
    private readonly project: EpanetProject,
    private readonly options: HydraulicModelOptions,
  ) {
    const flowUnits = project.getFlowUnits();
    const m3hPerFlowUnit = M3H_PER_FLOW_UNIT.get(flowUnits);
    if (m3hPerFlowUnit === undefined) {
      throw new HydraulicModelError('unsupported_units', `the network uses US flow units (EPANET code ${flowUnits}); use LPS, LPM, MLD, CMH or CMD`);
    }
    this.m3hPerFlowUnit = m3hPerFlowUnit;
    this.seed = options.seed ?? 1;
    this.noiseFraction = options.demandNoiseFraction ?? 0.03;
    this.noiseIntervalS = options.demandNoiseIntervalS ?? 60;
    if (!(this.noiseFraction >= 0 && this.noiseFraction < 1)) throw new HydraulicModelError('bad_argument', `demandNoiseFraction must be in [0, 1), got ${this.noiseFraction}`);
    if (!(this.noiseIntervalS >= 1)) throw new HydraulicModelError('bad_argument', `demandNoiseIntervalS must be at least 1, got ${this.noiseIntervalS}`);

    for (let index = 1; index <= project.getCount(CountType.NodeCount); index++) {
      const id = project.getNodeId(index);
      const kind = NODE_KINDS[project.getNodeType(index)] ?? 'junction';
      this.nodes.set(id, { index, kind });
      if (kind === 'junction' && project.getNumberOfDemands(index) > 0) {
        this.junctionDemands.push({ index, id, baseDemand: project.getBaseDemand(index, 1), multiplier: 1 });
      }
    }
    for (let index = 1; index <= project.getCount(CountType.LinkCount); index++) {
      const kind = LINK_KINDS[project.getLinkType(index)] ?? 'pipe';
      this.links.set(project.getLinkId(index), { index, kind });
      if (isValve(kind)) this.valveSettings.set(index, project.getLinkValue(index, LinkProperty.InitSetting));
    }

    // Stepping must land on every whole multiple of the step, so the report step (which EPANET
    // uses to re-align steps after a tank or control event) is set to the hydraulic step.
    this.maximumStepS = Math.floor(options.hydraulicStepS ?? project.getTimeParameter(TimeParameter.HydStep));
    if (!(this.maximumStepS >= 1)) throw new HydraulicModelError('bad_argument', `hydraulicStepS must be at least 1 s, got ${options.hydraulicStepS}`);
    project.setTimeParameter(TimeParameter.Duration, Math.floor(options.durationS ?? DEFAULT_DURATION_S));
    project.setTimeParameter(TimeParameter.ReportStep, this.maximumStepS);
    project.setTimeParameter(TimeParameter.HydStep, this.maximumStepS);
    this.currentStepS = project.getTimeParameter(TimeParameter.HydStep);
    if (options.patternStartS !== undefined) project.setTimeParameter(TimeParameter.PatternStart, Math.floor(options.patternStartS));

    project.openH();
    project.initH(InitHydOption.NoSave);
    this.applyDemands(0);
    this.solve(() => project.runH());
  }

  /** Opens a network from an .inp file path or from .inp text, solved at simulated time 0. */
  static async open(inpPathOrText: string, options: HydraulicModelOptions = {}): Promise<HydraulicModel> {
    const inpText = /[\r\n]/.test(inpPathOrText) ? inpPathOrText : await readFile(inpPathOrText, 'utf8');
    const engine = await workspace();
    const fileName = `network-${++inpFileSequence}.inp`;
    engine.writeFile(fileName, inpText);
    const project: EpanetProject = new Project(engine);
    try {
      project.open(fileName, `network-${inpFileSequence}.rpt`, '');
    } catch (error) {
      throw new HydraulicModelError('solver_failed', `cannot open the network: ${(error as Error).message}`, undefined, { cause: error });
    }
    try {
      return new HydraulicModel(project, options);
    } catch (error) {
      project.close();
      throw error;
    }
  }

  /** Simulated seconds of the current solution. */
  get timeS(): number {
    return this.solvedTimeS;
  }

  /** Solver steps taken so far (intervals, tank and control events included). */
  get steps(): number {
    return this.solverSteps;
  }

  /**
   * Solves forward through EPANET's own steps (never longer than the hydraulic step, shorter at
   * tank and control events) until the solution is the one for `simTimeS`. Whole seconds: EPANET
   * keeps time as integers, so fractions are dropped.
   */
  advanceTo(simTimeS: number): void {
    this.assertOpen();
    const targetS = Math.floor(simTimeS);
    if (!Number.isFinite(targetS) || targetS < this.solvedTimeS) {
      throw new HydraulicModelError('time_reversal', `cannot advance the hydraulic model to ${simTimeS} s: it is already at ${this.solvedTimeS} s and never runs backwards`);
    }
    while (this.solvedTimeS < targetS) {
      // A shorter step lands exactly on a target between two regular steps.
      const stepS = Math.min(this.maximumStepS, targetS - this.solvedTimeS);
      if (stepS !== this.currentStepS) {
        this.project.setTimeParameter(TimeParameter.HydStep, stepS);
        this.currentStepS = stepS;
      }
      const takenS = this.solve(() => this.project.nextH());
      if (takenS <= 0) {
        throw new HydraulicModelError('duration_exceeded', `the hydraulic model ran to the end of its duration at ${this.solvedTimeS} s; open it with a longer durationS`);
      }
      this.applyDemands(this.solvedTimeS + takenS);
      this.solvedTimeS = this.solve(() => this.project.runH());
      this.solverSteps += 1;
    }
  }

  /**
   * pressure, head and level in m; demand and flow in m3/h (flow positive from the link's first
   * node to its second); velocity in m/s; status 1 open or running, 0 closed or off; setting is a
   * valve's setting (m for PRV/PSV/PBV, m3/h for FCV) or a pump's relative speed.
   */
  readElement(element: string, quantity: ElementQuantity): number {
    this.assertOpen();
    const node = this.nodes.get(element);
    if (node !== undefined) return this.readNode(element, node, quantity);
    const link = this.links.get(element);
    if (link !== undefined) return this.readLink(element, link, quantity);
    throw new UnknownElementError(element, 'element');
  }

  /** Starts or stops a pump from the next step on; its level controls stand aside until `restoreAutomatic`. */
  setPumpRunning(pumpId: string, running: boolean): void {
    const pump = this.linkOf(pumpId, 'pump');
    if (pump.kind !== 'pump') throw new HydraulicModelError('not_applicable', `"${pumpId}" is a ${pump.kind}, not a pump`, pumpId);
    this.suspendAutomation(pump.index);
    this.project.setLinkValue(pump.index, LinkProperty.Status, running ? 1 : 0);
  }

  /** A valve's new setting (m for PRV/PSV/PBV, m3/h for FCV, loss coefficient for TCV); the valve regulates at it. */
  setValveSetting(valveId: string, value: number): void {
    const valve = this.linkOf(valveId, 'valve');
    if (!isValve(valve.kind) || valve.kind === 'gpv') throw new HydraulicModelError('not_applicable', `"${valveId}" is a ${valve.kind}, not a valve with a setting`, valveId);
    if (!Number.isFinite(value) || value < 0) throw new HydraulicModelError('bad_argument', `valve setting of "${valveId}" must be a finite number >= 0, got ${value}`, valveId);
    const setting = valve.kind === 'fcv' ? value / this.m3hPerFlowUnit : value;
    this.suspendAutomation(valve.index);
    this.valveSettings.set(valve.index, setting);
    this.project.setLinkValue(valve.index, LinkProperty.Setting, setting);
  }

  /**
   * Opens or closes any link. Closing a valve shuts it; opening it returns it to regulating at
   * its last setting (an operator reopening a PRV wants the PRV back, not a bare pipe).
   */
  setLinkOpen(linkId: string, open: boolean): void {
    const link = this.linkOf(linkId, 'link');
    this.suspendAutomation(link.index);
    if (open && isValve(link.kind)) {
      this.project.setLinkValue(link.index, LinkProperty.Setting, this.valveSettings.get(link.index) ?? 0);
    } else {
      this.project.setLinkValue(link.index, LinkProperty.Status, open ? 1 : 0);
    }
  }

  /** Hands a link back to the network's own controls and rules after manual commands. */
  restoreAutomatic(linkId: string): void {
    const link = this.linkOf(linkId, 'link');
    const suspended = this.suspendedAutomation.get(link.index);
    if (suspended === undefined) return;
    for (const control of suspended.controls) this.project.setControlEnabled(control, 1);
    for (const rule of suspended.rules) this.project.setRuleEnabled(rule, 1);
    this.suspendedAutomation.delete(link.index);
  }

  /**
   * A leak or burst at a junction: outflow (m3/h) = coefficient × √(pressure in m). 0 removes it.
   * The outflow shows in the junction's `demand`.
   */
  setEmitter(junctionId: string, coefficientM3hPerSqrtM: number): void {
    this.assertOpen();
    const node = this.nodes.get(junctionId);
    if (node === undefined || node.kind !== 'junction') throw new UnknownElementError(junctionId, 'junction');
    if (!Number.isFinite(coefficientM3hPerSqrtM) || coefficientM3hPerSqrtM < 0) {
      throw new HydraulicModelError('bad_argument', `emitter coefficient at "${junctionId}" must be a finite number >= 0, got ${coefficientM3hPerSqrtM}`, junctionId);
    }
    this.project.setNodeValue(node.index, NodeProperty.Emitter, coefficientM3hPerSqrtM / this.m3hPerFlowUnit);
  }

  /**
   * Scales base demand from the next step on: `all`, a zone id `dma-N` (junctions `J-DN-*`), or
   * any junction id prefix. Factors replace, they do not compound.
   */
  setDemandMultiplier(zonePrefixOrAll: string, factor: number): void {
    this.assertOpen();
    if (!Number.isFinite(factor) || factor < 0) throw new HydraulicModelError('bad_argument', `demand multiplier must be a finite number >= 0, got ${factor}`, zonePrefixOrAll);
    const zone = /^dma-(\d+)$/i.exec(zonePrefixOrAll);
    const prefix = zone !== null ? `J-D${zone[1]}-` : zonePrefixOrAll;
    const matching = zonePrefixOrAll === 'all' ? this.junctionDemands : this.junctionDemands.filter((junction) => junction.id.startsWith(prefix));
    if (matching.length === 0) throw new UnknownElementError(zonePrefixOrAll, 'zone or junction prefix');
    for (const junction of matching) junction.multiplier = factor;
    this.demandsDirty = true;
  }

  elements(): NetworkElements {
    this.assertOpen();
    const coordinatesOf = (index: number): Coordinates => {
      const { x, y } = this.project.getCoordinates(index);
      return { lon: x, lat: y };
    };
    const nodes = [...this.nodes].map(([id, node]): NodeElement => ({
      id,
      kind: node.kind,
      ...coordinatesOf(node.index),
      elevationM: this.project.getNodeValue(node.index, NodeProperty.Elevation),
    }));
    const links = [...this.links].map(([id, link]): LinkElement => {
      const { node1, node2 } = this.project.getLinkNodes(link.index);
      const vertices: Coordinates[] = [];
      for (let vertex = 1; vertex <= this.project.getVertexCount(link.index); vertex++) {
        const { x, y } = this.project.getVertex(link.index, vertex);
        vertices.push({ lon: x, lat: y });
      }
      return {
        id,
        kind: link.kind,
        fromNodeId: this.project.getNodeId(node1),
        toNodeId: this.project.getNodeId(node2),
        path: [coordinatesOf(node1), ...vertices, coordinatesOf(node2)],
      };
    });
    return { nodes, links };
  }

  /** The most recent solver warnings (up to 100) and how many there were in all. */
  warnings(): { total: number; recent: readonly HydraulicWarning[] } {
    return { total: this.warningTotal, recent: [...this.keptWarnings] };
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.project.closeH();
    this.project.close();
  }

  private readNode(id: string, node: NodeEntry, quantity: ElementQuantity): number {
    switch (quantity) {
      case 'pressure':
        return this.project.getNodeValue(node.index, NodeProperty.Pressure);
      case 'head':
        return this.project.getNodeValue(node.index, NodeProperty.Head);
      case 'demand':
        return this.project.getNodeValue(node.index, NodeProperty.Demand) * this.m3hPerFlowUnit;
      case 'level':
        // EN_TANKLEVEL reports the initial level during a run, not the current one.
        if (node.kind === 'junction') break;
        return this.project.getNodeValue(node.index, NodeProperty.Head) - this.project.getNodeValue(node.index, NodeProperty.Elevation);
      default:
        break;
    }
    throw new HydraulicModelError('not_applicable', `"${quantity}" does not apply to ${node.kind} "${id}"`, id);
  }

  private readLink(id: string, link: LinkEntry, quantity: ElementQuantity): number {
    switch (quantity) {
      case 'flow':
        return this.project.getLinkValue(link.index, LinkProperty.Flow) * this.m3hPerFlowUnit;
      case 'velocity':
        return this.project.getLinkValue(link.index, LinkProperty.Velocity);
      case 'status':
        // EPANET 2.3 reports an active (regulating) valve as 2: open as far as a tag is concerned.
        return this.project.getLinkValue(link.index, LinkProperty.Status) > 0 ? 1 : 0;
      case 'setting': {
        if (link.kind === 'pipe' || link.kind === 'cv_pipe') break;
        const setting = this.project.getLinkValue(link.index, LinkProperty.Setting);
        return link.kind === 'fcv' ? setting * this.m3hPerFlowUnit : setting;
      }
      default:
        break;
    }
    throw new HydraulicModelError('not_applicable', `"${quantity}" does not apply to ${link.kind} "${id}"`, id);
  }

  private linkOf(linkId: string, expected: string): LinkEntry {
    this.assertOpen();
    const link = this.links.get(linkId);
    if (link === undefined) throw new UnknownElementError(linkId, expected);
    return link;
  }

  /** A manual command would be undone at the next step by a level control that still holds. */
  private suspendAutomation(linkIndex: number): void {
    if (this.suspendedAutomation.has(linkIndex)) return;
    const controls: number[] = [];
    for (let control = 1; control <= this.project.getCount(CountType.ControlCount); control++) {
      if (this.project.getControl(control).linkIndex === linkIndex && this.project.getControlEnabled(control) === 1) {
        this.project.setControlEnabled(control, 0);
        controls.push(control);
      }
    }
    const rules: number[] = [];
    for (let rule = 1; rule <= this.project.getCount(CountType.RuleCount); rule++) {
      const { thenActionCount, elseActionCount } = this.project.getRule(rule);
      let acts = false;
      for (let action = 1; action <= thenActionCount; action++) acts ||= this.project.getThenAction(rule, action).linkIndex === linkIndex;
      for (let action = 1; action <= elseActionCount; action++) acts ||= this.project.getElseAction(rule, action).linkIndex === linkIndex;
      if (acts && this.project.getRuleEnabled(rule) === 1) {
        this.project.setRuleEnabled(rule, 0);
        rules.push(rule);
      }
    }
    this.suspendedAutomation.set(linkIndex, { controls, rules });
  }

  private applyDemands(simTimeS: number): void {
    if (this.noiseFraction === 0 && !this.demandsDirty) return;
    const bucket = Math.floor(simTimeS / this.noiseIntervalS);
    for (const junction of this.junctionDemands) {
      const noise = this.noiseFraction === 0 ? 1 : 1 + this.noiseFraction * (2 * demandNoiseUnit(this.seed, junction.index, bucket) - 1);
      this.project.setBaseDemand(junction.index, 1, junction.baseDemand * junction.multiplier * noise);
    }
    this.demandsDirty = false;
  }

  /**
   * Runs one solver call. epanet-js reports EPANET warnings only through console.warn, so that is
   * borrowed for the call to turn them into data; errors become typed errors.
   */
  private solve(call: () => number): number {
    const consoleWarn = console.warn;
    const caught: string[] = [];
    console.warn = (...parts: unknown[]) => {
      caught.push(parts.map(String).join(' '));
    };
    let result: number;
    try {
      result = call();
    } catch (error) {
      throw new HydraulicModelError('solver_failed', `hydraulic solver failed at ${this.solvedTimeS} s: ${(error as Error).message}`, undefined, { cause: error });
    } finally {
      console.warn = consoleWarn;
    }
    for (const text of caught) {
      const match = /Warning (\d+)\):\s*(.*)$/s.exec(text);
      const warning: HydraulicWarning = { code: match ? Number(match[1]) : 0, message: match?.[2] ?? text, simTimeS: this.solvedTimeS };
      this.warningTotal += 1;
      this.keptWarnings.push(warning);
      if (this.keptWarnings.length > KEPT_WARNINGS) this.keptWarnings.shift();
      this.options.onWarning?.(warning);
    }
    return result;
  }

  private assertOpen(): void {
    if (!this.open) throw new HydraulicModelError('closed', 'the hydraulic model is closed');
  }
}
