import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { HydraulicModel, HydraulicModelError, UnknownElementError, type HydraulicModelOptions } from '../../simulators/hydraulics/hydraulic-model.js';
import { buildDemoTownInp } from '../../simulators/hydraulics/networks/build-demo-town.js';
import { SimClock, SimClockError, type WallTimers } from '../../simulators/hydraulics/sim-clock.js';

const DEMO_TOWN = fileURLToPath(new URL('../../simulators/hydraulics/networks/demo-town.inp', import.meta.url));
const MINUTE_S = 60;
const HOUR_S = 3600;
const SENSORS = ['J-D1-PS1', 'J-D1-PS2', 'J-D2-PS1', 'J-D2-PS2', 'J-D3-PS1', 'J-D3-PS2'];
const INLETS = ['P-D1-IN', 'P-D2-IN', 'P-D3-IN'];

const open = (options: HydraulicModelOptions = {}): Promise<HydraulicModel> => HydraulicModel.open(DEMO_TOWN, { seed: 1, ...options });

/** Advances minute by minute to `untilS`, handing each minute's model to `visit`. */
function runMinutes(model: HydraulicModel, untilS: number, visit: (simTimeS: number) => void = () => {}): void {
  for (let simTimeS = model.timeS + MINUTE_S; simTimeS <= untilS; simTimeS += MINUTE_S) {
    model.advanceTo(simTimeS);
    visit(simTimeS);
  }
}

describe('hydraulic model: demo-town network', () => {
  it('is the committed output of its build script', () => {
    expect(readFileSync(DEMO_TOWN, 'utf8')).to.equal(buildDemoTownInp());
  });

  it('has the plant the site config names, with DMA junctions inside their polygons', async () => {
    const model = await open();
    try {
      const { nodes, links } = model.elements();
      const kindOf = (id: string): string | undefined => [...nodes, ...links].find((element) => element.id === id)?.kind;
      const junctions = nodes.filter((node) => node.kind === 'junction');
      expect(junctions.length).to.be.within(50, 300);
      expect(links.filter((link) => link.kind === 'pump').map((link) => link.id)).to.include.members(['PU-1', 'PU-2']);
      expect(kindOf('R-WTP')).to.equal('reservoir');
      expect(kindOf('T-1')).to.equal('tank');
      expect(kindOf('J-PS-OUT')).to.equal('junction');
      expect(kindOf('P-PS-OUT')).to.equal('pipe');
      expect(kindOf('V-D3-PRV')).to.equal('prv');
      for (const inlet of INLETS) expect(kindOf(inlet), inlet).to.equal('pipe');
      for (const sensor of SENSORS) expect(kindOf(sensor), sensor).to.equal('junction');

      const polygons: Record<string, [number, number, number, number]> = {
        'J-D1-': [107.6, 107.62, -6.9, -6.885],
        'J-D2-': [107.6, 107.62, -6.915, -6.9],
        'J-D3-': [107.62, 107.64, -6.915, -6.885],
      };
      for (const [prefix, [lonWest, lonEast, latSouth, latNorth]] of Object.entries(polygons)) {
        const district = junctions.filter((junction) => junction.id.startsWith(prefix));
        expect(district.length, prefix).to.be.greaterThan(20);
        for (const junction of district) {
          expect(junction.lon, junction.id).to.be.within(lonWest, lonEast);
          expect(junction.lat, junction.id).to.be.within(latSouth, latNorth);
        }
      }
      // PS2 is each district's critical point: its highest ground.
      for (const prefix of Object.keys(polygons)) {
        const district = junctions.filter((junction) => junction.id.startsWith(prefix));
        const highest = district.reduce((best, junction) => (junction.elevationM > best.elevationM ? junction : best));
        expect(highest.id).to.equal(`${prefix}PS2`);
      }
    } finally {
      model.close();
    }
  });

  describe('a normal week at 1-minute steps', () => {
    const pressureRangeM = new Map(SENSORS.map((sensor) => [sensor, { minimum: Infinity, maximum: -Infinity }]));
    const tankRangeM = { minimum: Infinity, maximum: -Infinity };
    /** Mean inlet flow (m3/h) by DMA for Monday 02:00-04:00 and 07:00-09:00. */
    const nightFlowM3h = new Map(INLETS.map((inlet) => [inlet, 0]));
    const morningFlowM3h = new Map(INLETS.map((inlet) => [inlet, 0]));
    let warningTotal = -1;

    before(async function () {
      this.timeout(20_000);
      const model = await open();
      try {
        runMinutes(model, 7 * 24 * HOUR_S, (simTimeS) => {
          for (const [sensor, range] of pressureRangeM) {
            const pressureM = model.readElement(sensor, 'pressure');
            range.minimum = Math.min(range.minimum, pressureM);
            range.maximum = Math.max(range.maximum, pressureM);
          }
          const levelM = model.readElement('T-1', 'level');
          tankRangeM.minimum = Math.min(tankRangeM.minimum, levelM);
          tankRangeM.maximum = Math.max(tankRangeM.maximum, levelM);
          const window = simTimeS > 2 * HOUR_S && simTimeS <= 4 * HOUR_S ? nightFlowM3h : simTimeS > 7 * HOUR_S && simTimeS <= 9 * HOUR_S ? morningFlowM3h : undefined;
          for (const inlet of INLETS) window?.set(inlet, window.get(inlet)! + model.readElement(inlet, 'flow') / 120);
        });
        warningTotal = model.warnings().total;
      } finally {
        model.close();
      }
    });

    it('solves without warnings', () => expect(warningTotal).to.equal(0));

    for (const sensor of SENSORS) {
      it(`keeps ${sensor} between 15 and 60 m`, () => {
        const range = pressureRangeM.get(sensor)!;
        expect(range.minimum, 'minimum').to.be.at.least(15);
        expect(range.maximum, 'maximum').to.be.at.most(60);
      });
    }

    it('cycles the tank inside 0..8 m on its pump controls', () => {
      expect(tankRangeM.minimum).to.be.greaterThan(2);
      expect(tankRangeM.maximum).to.be.lessThan(8);
      expect(tankRangeM.maximum - tankRangeM.minimum).to.be.greaterThan(2);
    });

    for (const inlet of INLETS) {
      it(`follows the diurnal pattern into ${inlet}: night flow well under morning flow`, () => {
        expect(nightFlowM3h.get(inlet)!).to.be.greaterThan(10);
        expect(nightFlowM3h.get(inlet)! * 2).to.be.lessThan(morningFlowM3h.get(inlet)!);
      });
    }
  });

  describe('commands and faults', () => {
    it('stopping one pump, then both, cuts the station outlet flow and pressure', async () => {
      const model = await open();
      try {
        runMinutes(model, 8 * HOUR_S);
        const readStation = (): { flowM3h: number; pressureM: number } => ({ flowM3h: model.readElement('P-PS-OUT', 'flow'), pressureM: model.readElement('J-PS-OUT', 'pressure') });
        model.setPumpRunning('PU-1', true);
        model.setPumpRunning('PU-2', true);
        runMinutes(model, model.timeS + MINUTE_S);
        const both = readStation();
        expect(model.readElement('PU-1', 'status')).to.equal(1);
        expect(model.readElement('PU-2', 'status')).to.equal(1);
        model.setPumpRunning('PU-2', false);
        runMinutes(model, model.timeS + MINUTE_S);
        const one = readStation();
        expect(model.readElement('PU-2', 'status')).to.equal(0);
        model.setPumpRunning('PU-1', false);
        runMinutes(model, model.timeS + MINUTE_S);
        const none = readStation();

        expect(both.flowM3h).to.be.greaterThan(one.flowM3h * 1.3);
        expect(one.flowM3h).to.be.greaterThan(200);
        expect(Math.abs(none.flowM3h)).to.be.lessThan(1);
        expect(both.pressureM).to.be.greaterThan(one.pressureM);
        expect(one.pressureM).to.be.greaterThan(none.pressureM + 2);

        // Manual stops hold against the level controls until handed back.
        runMinutes(model, model.timeS + HOUR_S);
        expect(model.readElement('PU-1', 'status')).to.equal(0);
        model.restoreAutomatic('PU-1');
        model.restoreAutomatic('PU-2');
        runMinutes(model, model.timeS + MINUTE_S);
        expect(model.readElement('PU-1', 'status')).to.equal(1);
      } finally {
        model.close();
      }
    });

    it('a burst (emitter) in DMA 2 raises P-D2-IN flow and lowers J-D2-PS1 pressure', async () => {
      const baseline = await open();
      const burst = await open();
      try {
        runMinutes(baseline, 10 * HOUR_S);
        runMinutes(burst, 10 * HOUR_S);
        burst.setEmitter('J-D2-010', 20);
        baseline.advanceTo(10 * HOUR_S + 5 * MINUTE_S);
        burst.advanceTo(10 * HOUR_S + 5 * MINUTE_S);
        const extraFlowM3h = burst.readElement('P-D2-IN', 'flow') - baseline.readElement('P-D2-IN', 'flow');
        expect(extraFlowM3h).to.be.within(50, 200);
        expect(burst.readElement('J-D2-010', 'demand') - baseline.readElement('J-D2-010', 'demand')).to.be.closeTo(extraFlowM3h, 1);
        expect(burst.readElement('J-D2-PS1', 'pressure')).to.be.lessThan(baseline.readElement('J-D2-PS1', 'pressure') - 2);

        burst.setEmitter('J-D2-010', 0);
        burst.advanceTo(10 * HOUR_S + 6 * MINUTE_S);
        baseline.advanceTo(10 * HOUR_S + 6 * MINUTE_S);
        expect(burst.readElement('P-D2-IN', 'flow')).to.be.closeTo(baseline.readElement('P-D2-IN', 'flow'), 1);
      } finally {
        baseline.close();
        burst.close();
      }
    });

    it('closing V-D3-PRV cuts P-D3-IN to nothing; reopening resumes regulation', async () => {
      const model = await open();
      try {
        runMinutes(model, 9 * HOUR_S);
        expect(model.readElement('P-D3-IN', 'flow')).to.be.greaterThan(100);
        expect(model.readElement('V-D3-PRV', 'setting')).to.be.closeTo(40, 1e-9);
        model.setLinkOpen('V-D3-PRV', false);
        model.advanceTo(model.timeS + MINUTE_S);
        expect(model.readElement('V-D3-PRV', 'status')).to.equal(0);
        expect(Math.abs(model.readElement('P-D3-IN', 'flow'))).to.be.lessThan(0.1);
        expect(model.readElement('J-D3-PS1', 'pressure')).to.be.lessThan(5);

        model.setLinkOpen('V-D3-PRV', true);
        model.advanceTo(model.timeS + MINUTE_S);
        expect(model.readElement('V-D3-PRV', 'status')).to.equal(1);
        expect(model.readElement('P-D3-IN', 'flow')).to.be.greaterThan(100);
        expect(model.readElement('J-D3-PS1', 'pressure')).to.be.within(25, 45);

        model.setValveSetting('V-D3-PRV', 30);
        model.advanceTo(model.timeS + MINUTE_S);
        expect(model.readElement('V-D3-PRV', 'setting')).to.be.closeTo(30, 1e-9);
        expect(model.readElement('J-D3-PS1', 'pressure')).to.be.within(15, 35);
      } finally {
        model.close();
      }
    });

    it('a demand surge in one zone raises only that zone\'s inflow', async () => {
      const model = await open({ demandNoiseFraction: 0 });
      try {
        runMinutes(model, 12 * HOUR_S);
        const before = INLETS.map((inlet) => model.readElement(inlet, 'flow'));
        model.setDemandMultiplier('dma-1', 1.5);
        model.advanceTo(model.timeS + MINUTE_S);
        const after = INLETS.map((inlet) => model.readElement(inlet, 'flow'));
        expect(after[0]! / before[0]!).to.be.closeTo(1.5, 0.05);
        expect(after[2]!).to.be.closeTo(before[2]!, 2);
        expect(() => model.setDemandMultiplier('dma-9', 2)).to.throw(UnknownElementError);
      } finally {
        model.close();
      }
    });
  });

  describe('determinism and misuse', () => {
    const inletFlows = async (options: HydraulicModelOptions, slice: 'minutes' | 'hours'): Promise<number[]> => {
      const model = await open(options);
      try {
        const flows: number[] = [];
        const stepS = slice === 'minutes' ? MINUTE_S : HOUR_S;
        for (let simTimeS = stepS; simTimeS <= 3 * HOUR_S; simTimeS += stepS) {
          model.advanceTo(simTimeS);
          if (simTimeS % HOUR_S === 0) flows.push(...INLETS.map((inlet) => model.readElement(inlet, 'flow')), model.readElement('J-D1-PS2', 'pressure'));
        }
        return flows;
      } finally {
        model.close();
      }
    };

    it('gives identical values for the same seed, however time is sliced, and different ones for another seed', async () => {
      const first = await inletFlows({ seed: 7 }, 'minutes');
      expect(await inletFlows({ seed: 7 }, 'minutes')).to.deep.equal(first);
      expect(await inletFlows({ seed: 7 }, 'hours')).to.deep.equal(first);
      const other = await inletFlows({ seed: 8 }, 'minutes');
      expect(other).to.not.deep.equal(first);
      other.forEach((value, index) => expect(value).to.be.closeTo(first[index]!, Math.abs(first[index]!) * 0.05));
    });

    it('lands exactly on a time between two solver steps', async () => {
      const model = await open();
      try {
        model.advanceTo(90);
        expect(model.timeS).to.equal(90);
        model.advanceTo(150.7);
        expect(model.timeS).to.equal(150);
      } finally {
        model.close();
      }
    });

    it('refuses to run backwards, and names unknown elements', async () => {
      const model = await open();
      try {
        model.advanceTo(HOUR_S);
        expect(() => model.advanceTo(HOUR_S - 1)).to.throw(HydraulicModelError, /backwards/).with.property('code', 'time_reversal');
        expect(() => model.readElement('J-NOWHERE', 'pressure')).to.throw(UnknownElementError, /J-NOWHERE/).with.property('element', 'J-NOWHERE');
        expect(() => model.setPumpRunning('PU-9', true)).to.throw(UnknownElementError, /PU-9/);
        expect(() => model.setEmitter('T-1', 5)).to.throw(UnknownElementError, /T-1/);
        expect(() => model.setPumpRunning('P-PS-OUT', true)).to.throw(HydraulicModelError).with.property('code', 'not_applicable');
        expect(() => model.readElement('J-PS-OUT', 'flow')).to.throw(HydraulicModelError).with.property('code', 'not_applicable');
      } finally {
        model.close();
      }
      expect(() => model.readElement('T-1', 'level')).to.throw(HydraulicModelError).with.property('code', 'closed');
    });
  });
});

describe('SimClock', () => {
  /** Wall time and timers under the test's hand. */
  function manualTimers(): WallTimers & { advance(ms: number): void; active: number } {
    let wallMs = 0;
    const intervals = new Map<number, { callback: () => void; intervalMs: number; dueMs: number }>();
    let nextHandle = 1;
    return {
      nowMs: () => wallMs,
      setInterval(callback, intervalMs) {
        intervals.set(nextHandle, { callback, intervalMs, dueMs: wallMs + intervalMs });
        return nextHandle++;
      },
      clearInterval(handle) {
        intervals.delete(handle as number);
      },
      advance(ms) {
        const endMs = wallMs + ms;
        for (;;) {
          const due = [...intervals.values()].filter((interval) => interval.dueMs <= endMs).sort((a, b) => a.dueMs - b.dueMs)[0];
          if (due === undefined) break;
          wallMs = due.dueMs;
          due.dueMs += due.intervalMs;
          due.callback();
        }
        wallMs = endMs;
      },
      get active() {
        return intervals.size;
      },
    };
  }

  const startEpochMs = Date.UTC(2024, 5, 2, 17, 0, 0);

  it('stepped: moves only on step(), ticking each time', () => {
    const clock = new SimClock({ startEpochMs, mode: 'stepped' });
    const ticks: number[] = [];
    clock.onTick((tick) => ticks.push(tick.simTimeS));
    expect(clock.now()).to.equal(startEpochMs);
    clock.start();
    expect(clock.running).to.equal(false);
    clock.step(60);
    clock.step(30);
    expect(ticks).to.deep.equal([60, 90]);
    expect(clock.now()).to.equal(startEpochMs + 90_000);
    expect(() => clock.step(-1)).to.throw(SimClockError);
  });

  it('accelerated: runs speedFactor times faster than the wall, freezes when stopped, leaves no timer', () => {
    const timers = manualTimers();
    const clock = new SimClock({ startEpochMs, mode: 'accelerated', speedFactor: 60, tickIntervalMs: 1000, timers });
    const ticks: number[] = [];
    const removeListener = clock.onTick((tick) => ticks.push(tick.simTimeS));
    clock.start();
    clock.start();
    expect(timers.active).to.equal(1);
    timers.advance(3000);
    expect(ticks).to.deep.equal([60, 120, 180]);
    timers.advance(500);
    expect(clock.now()).to.equal(startEpochMs + 210_000);
    clock.stop();
    expect(timers.active).to.equal(0);
    timers.advance(10_000);
    expect(clock.now()).to.equal(startEpochMs + 210_000);
    clock.start();
    removeListener();
    timers.advance(1000);
    expect(ticks).to.have.length(3);
    expect(clock.simTimeS()).to.equal(270);
    clock.stop();
    expect(() => clock.step(1)).to.throw(SimClockError, /stepped/);
  });

  it('realtime: one simulated second per wall second, and drives the hydraulic model', async () => {
    const timers = manualTimers();
    const clock = new SimClock({ startEpochMs, mode: 'realtime', tickIntervalMs: 30_000, timers });
    const model = await HydraulicModel.open(DEMO_TOWN, { seed: 1 });
    try {
      clock.onTick((tick) => model.advanceTo(tick.simTimeS));
      clock.start();
      timers.advance(5 * 60_000);
      clock.stop();
      expect(model.timeS).to.equal(300);
      expect(clock.now()).to.equal(startEpochMs + 300_000);
    } finally {
      model.close();
    }
  });
});
