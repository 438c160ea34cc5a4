// Authors demo-town.inp, the EPANET network behind the simulated plant: clear well, a two-pump
// station, an elevated tank and three district metered areas laid out on the DMA polygons of
// config/demo-town.yaml. Pure and deterministic (its own seeded PRNG, fixed number formats), so
// the committed .inp is reproducible: `npx tsx simulators/hydraulics/networks/build-demo-town.ts`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mulberry32 } from '../../random.js';

interface Point {
  lon: number;
  lat: number;
}

interface JunctionSpec extends Point {
  id: string;
  elevationM: number;
  baseDemandM3h: number;
}

interface PipeSpec {
  id: string;
  from: string;
  to: string;
  lengthM: number;
  diameterMm: number;
  roughness: number;
}

interface DistrictSpec {
  /** 1, 2 or 3: DMA number, used in every id of the district. */
  number: number;
  columns: number;
  rows: number;
  /** Outer grid nodes, kept a little inside the DMA polygon. */
  lonWest: number;
  lonEast: number;
  latSouth: number;
  latNorth: number;
  /** The inlet flow meter's place in config/demo-town.yaml: the grid is fed at its nearest node. */
  inlet: Point;
  /** Sensor places in config/demo-town.yaml; PS2 is made the district's highest node. */
  sensor1: Point;
  sensor2: Point;
  /** Ground at the inlet and how much it rises towards the far side. */
  inletElevationM: number;
  elevationRiseM: number;
  /** Average day demand of the whole district. */
  averageDemandM3h: number;
  spineDiameterMm: number;
}

const HAZEN_WILLIAMS_C = 120;
const DISTRICT_PIPE_C = 110;

// DMA 1 sits on the higher ground north of the trunk; DMA 3 is low and fed through a PRV.
// Demands: ~4 200, 3 100 and 5 600 connections at ~0.9 m3/day each, leakage included.
const DISTRICTS: readonly DistrictSpec[] = [
  {
    number: 1, columns: 8, rows: 6, lonWest: 107.6015, lonEast: 107.6185, latSouth: -6.899, latNorth: -6.886,
    inlet: { lon: 107.6005, lat: -6.8925 }, sensor1: { lon: 107.608, lat: -6.893 }, sensor2: { lon: 107.617, lat: -6.887 },
    inletElevationM: 713, elevationRiseM: 12, averageDemandM3h: 162, spineDiameterMm: 300,
  },
  {
    number: 2, columns: 8, rows: 6, lonWest: 107.6015, lonEast: 107.6185, latSouth: -6.914, latNorth: -6.901,
    inlet: { lon: 107.6005, lat: -6.9075 }, sensor1: { lon: 107.608, lat: -6.908 }, sensor2: { lon: 107.617, lat: -6.913 },
    inletElevationM: 703, elevationRiseM: 9, averageDemandM3h: 119, spineDiameterMm: 250,
  },
  {
    number: 3, columns: 7, rows: 12, lonWest: 107.6215, lonEast: 107.6385, latSouth: -6.914, latNorth: -6.886,
    inlet: { lon: 107.6205, lat: -6.9 }, sensor1: { lon: 107.63, lat: -6.895 }, sensor2: { lon: 107.638, lat: -6.912 },
    inletElevationM: 688, elevationRiseM: 11, averageDemandM3h: 216, spineDiameterMm: 300,
  },
];

/** The PRV holds this pressure (m) at DMA 3's first node. */
const PRV_SETTING_M = 40;

// Hour-of-day demand multipliers. Week days: night minimum, sharp morning peak before work and
// school, evening peak. Weekends: a later, flatter morning and a busier midday.
const WEEKDAY = [0.55, 0.45, 0.4, 0.4, 0.45, 0.75, 1.35, 1.6, 1.45, 1.2, 1.05, 1.0, 1.05, 1.0, 0.95, 0.95, 1.05, 1.25, 1.45, 1.4, 1.2, 1.0, 0.8, 0.65];
const SATURDAY = [0.6, 0.5, 0.45, 0.42, 0.42, 0.5, 0.75, 1.0, 1.25, 1.4, 1.35, 1.3, 1.25, 1.15, 1.05, 1.0, 1.05, 1.2, 1.35, 1.35, 1.2, 1.05, 0.85, 0.7];
const SUNDAY = [0.62, 0.52, 0.45, 0.42, 0.42, 0.48, 0.65, 0.9, 1.15, 1.35, 1.35, 1.3, 1.3, 1.2, 1.05, 1.0, 1.0, 1.15, 1.3, 1.3, 1.15, 1.0, 0.8, 0.65];

/** Pattern hour 0 is Monday 00:00 local time. */
export const WEEKLY_PATTERN: readonly number[] = [...WEEKDAY, ...WEEKDAY, ...WEEKDAY, ...WEEKDAY, ...WEEKDAY, ...SATURDAY, ...SUNDAY];

function distanceM(a: Point, b: Point): number {
  const earthRadiusM = 6_371_000;
  const toRad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * toRad;
  const dLon = (b.lon - a.lon) * toRad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * toRad) * Math.cos(b.lat * toRad) * Math.sin(dLon / 2) ** 2;
  return 2 * earthRadiusM * Math.asin(Math.sqrt(h));
}

interface District {
  junctions: JunctionSpec[];
  pipes: PipeSpec[];
  inletNodeId: string;
}

function buildDistrict(spec: DistrictSpec, random: () => number): District {
  const prefix = `J-D${spec.number}-`;
  const positions: Point[][] = [];
  for (let row = 0; row < spec.rows; row++) {
    const line: Point[] = [];
    for (let column = 0; column < spec.columns; column++) {
      line.push({
        lon: spec.lonWest + ((spec.lonEast - spec.lonWest) * column) / (spec.columns - 1),
        lat: spec.latNorth - ((spec.latNorth - spec.latSouth) * row) / (spec.rows - 1),
      });
    }
    positions.push(line);
  }
  const nearest = (target: Point): [number, number] => {
    let best: [number, number] = [0, 0];
    let bestM = Infinity;
    positions.forEach((line, row) => line.forEach((point, column) => {
      const d = distanceM(point, target);
      if (d < bestM) {
        bestM = d;
        best = [row, column];
      }
    }));
    return best;
  };
  const [sensor1Row, sensor1Column] = nearest(spec.sensor1);
  const [sensor2Row, sensor2Column] = nearest(spec.sensor2);
  const [inletRow, inletColumn] = nearest(spec.inlet);
  const inletPoint = positions[inletRow]![inletColumn]!;
  let farthestM = 0;
  for (const line of positions) for (const point of line) farthestM = Math.max(farthestM, distanceM(point, inletPoint));

  const ids: string[][] = [];
  const junctions: JunctionSpec[] = [];
  let sequence = 0;
  for (let row = 0; row < spec.rows; row++) {
    const line: string[] = [];
    for (let column = 0; column < spec.columns; column++) {
      let id: string;
      let point = positions[row]![column]!;
      // Sensors take the grid node nearest their surveyed place and move onto it exactly.
      if (row === sensor1Row && column === sensor1Column) {
        id = `${prefix}PS1`;
        point = spec.sensor1;
      } else if (row === sensor2Row && column === sensor2Column) {
        id = `${prefix}PS2`;
        point = spec.sensor2;
      } else {
        sequence += 1;
        id = `${prefix}${String(sequence).padStart(3, '0')}`;
      }
      // Ground rises with distance from the inlet, with a little relief so no two streets match.
      const elevationM = spec.inletElevationM + spec.elevationRiseM * (distanceM(point, inletPoint) / farthestM) + (random() - 0.5) * 2;
      const demandWeight = 0.6 + 0.8 * random();
      junctions.push({ id, ...point, elevationM, baseDemandM3h: demandWeight });
      line.push(id);
    }
    ids.push(line);
  }
  const demandWeightTotal = junctions.reduce((sum, junction) => sum + junction.baseDemandM3h, 0);
  for (const junction of junctions) junction.baseDemandM3h = (junction.baseDemandM3h / demandWeightTotal) * spec.averageDemandM3h;
  // PS2 is the critical point: the highest ground in the district.
  const highestM = Math.max(...junctions.map((junction) => junction.elevationM));
  const critical = junctions.find((junction) => junction.id === `${prefix}PS2`)!;
  critical.elevationM = highestM + 0.5;

  const byId = new Map(junctions.map((junction) => [junction.id, junction]));
  const pipes: PipeSpec[] = [];
  const addPipe = (from: string, to: string, diameterMm: number): void => {
    const lengthM = Math.max(10, Math.round(distanceM(byId.get(from)!, byId.get(to)!)));
    pipes.push({ id: `P-D${spec.number}-${String(pipes.length + 1).padStart(3, '0')}`, from, to, lengthM, diameterMm, roughness: DISTRICT_PIPE_C });
  };
  // A looped grid: a large spine along the inlet's row, secondary mains on every third column
  // and 150 mm reticulation in between.
  for (let row = 0; row < spec.rows; row++) {
    for (let column = 0; column + 1 < spec.columns; column++) {
      const diameterMm = row === inletRow ? (column < spec.columns / 2 ? spec.spineDiameterMm : spec.spineDiameterMm - 50) : 150;
      addPipe(ids[row]![column]!, ids[row]![column + 1]!, diameterMm);
    }
  }
  for (let column = 0; column < spec.columns; column++) {
    const secondary = column % 3 === 0 || column === spec.columns - 1;
    for (let row = 0; row + 1 < spec.rows; row++) addPipe(ids[row]![column]!, ids[row + 1]![column]!, secondary ? 200 : 150);
  }
  return { junctions, pipes, inletNodeId: ids[inletRow]![inletColumn]! };
}

const fixed = (value: number, digits: number): string => value.toFixed(digits);

function section(title: string, header: string, rows: readonly string[]): string {
  return [`[${title}]`, `;${header}`, ...rows, ''].join('\n');
}

/** The whole .inp text; the same text on every run. */
export function buildDemoTownInp(): string {
  const random = mulberry32(20_240_601);
  const districts = DISTRICTS.map((spec) => buildDistrict(spec, random));
  const [district1, district2, district3] = districts as [District, District, District];

  // Transmission: clear well -> pump station -> trunk junction, tank floating on the trunk,
  // one main to each DMA inlet; DMA 3's main runs along the DMA 1 / DMA 2 boundary.
  const trunkJunctions: JunctionSpec[] = [
    { id: 'J-PS-IN', lon: 107.5895, lat: -6.9, elevationM: 700, baseDemandM3h: 0 },
    { id: 'J-PS-OUT', lon: 107.5905, lat: -6.9, elevationM: 700, baseDemandM3h: 0 },
    { id: 'J-TR-MAIN', lon: 107.5935, lat: -6.9, elevationM: 704, baseDemandM3h: 0 },
    { id: 'J-TR-JCT', lon: 107.5985, lat: -6.9, elevationM: 708, baseDemandM3h: 0 },
    { id: 'J-TR-D1', lon: 107.5995, lat: -6.8925, elevationM: 714, baseDemandM3h: 0 },
    { id: 'J-TR-D2', lon: 107.5995, lat: -6.9075, elevationM: 703, baseDemandM3h: 0 },
    { id: 'J-TR-D3', lon: 107.6195, lat: -6.9, elevationM: 696, baseDemandM3h: 0 },
    { id: 'J-TR-D3-PRV', lon: 107.6205, lat: -6.9, elevationM: 694, baseDemandM3h: 0 },
  ];
  const reservoir = { id: 'R-WTP', lon: 107.588, lat: -6.9, headM: 703 };
  const tank = { id: 'T-1', lon: 107.595, lat: -6.89, elevationM: 748, initialLevelM: 5, minimumLevelM: 0, maximumLevelM: 8, diameterM: 16 };
  const points = new Map<string, Point>([...trunkJunctions, ...districts.flatMap((district) => district.junctions), reservoir, tank].map((node) => [node.id, node]));
  const length = (from: string, to: string): number => Math.max(10, Math.round(distanceM(points.get(from)!, points.get(to)!)));
  const trunkPipe = (id: string, from: string, to: string, diameterMm: number, lengthScale = 1): PipeSpec =>
    ({ id, from, to, lengthM: Math.round(length(from, to) * lengthScale), diameterMm, roughness: HAZEN_WILLIAMS_C });
  // Mains follow streets, so they run a little longer than the straight line.
  const trunkPipes: PipeSpec[] = [
    trunkPipe('P-SUCTION', 'R-WTP', 'J-PS-IN', 600),
    trunkPipe('P-PS-OUT', 'J-PS-OUT', 'J-TR-MAIN', 500),
    trunkPipe('P-TANK', 'J-TR-MAIN', 'T-1', 400, 1.15),
    trunkPipe('P-TR-01', 'J-TR-MAIN', 'J-TR-JCT', 500, 1.1),
    trunkPipe('P-TR-D1', 'J-TR-JCT', 'J-TR-D1', 350, 1.15),
    trunkPipe('P-D1-IN', 'J-TR-D1', district1.inletNodeId, 350),
    trunkPipe('P-TR-D2', 'J-TR-JCT', 'J-TR-D2', 300, 1.15),
    trunkPipe('P-D2-IN', 'J-TR-D2', district2.inletNodeId, 300),
    trunkPipe('P-TR-D3', 'J-TR-JCT', 'J-TR-D3', 400, 1.1),
    trunkPipe('P-D3-IN', 'J-TR-D3', 'J-TR-D3-PRV', 400),
  ];
  const allJunctions = [...trunkJunctions, ...districts.flatMap((district) => district.junctions)];
  const allPipes = [...trunkPipes, ...districts.flatMap((district) => district.pipes)];

  const patternRows: string[] = [];
  for (let hour = 0; hour < WEEKLY_PATTERN.length; hour += 12) {
    patternRows.push(` DIURNAL-WEEK     ${WEEKLY_PATTERN.slice(hour, hour + 12).map((value) => fixed(value, 2)).join(' ')}`);
  }

  const parts = [
    section('TITLE', '', ['Demo Town water network (Tirta simulated plant)', 'Generated by simulators/hydraulics/networks/build-demo-town.ts - edit the script, not this file']),
    section('JUNCTIONS', 'ID               Elev(m)   Demand(m3/h)  Pattern',
      allJunctions.map((junction) => ` ${junction.id.padEnd(16)} ${fixed(junction.elevationM, 2).padStart(8)}  ${fixed(junction.baseDemandM3h, 3).padStart(10)}    ${junction.baseDemandM3h > 0 ? 'DIURNAL-WEEK' : ''}`.trimEnd())),
    section('RESERVOIRS', 'ID               Head(m)   Pattern', [` ${reservoir.id.padEnd(16)} ${fixed(reservoir.headM, 2).padStart(8)}`]),
    section('TANKS', 'ID               Elev(m)   InitLvl  MinLvl  MaxLvl  Diam(m)  MinVol  VolCurve  Overflow',
      [` ${tank.id.padEnd(16)} ${fixed(tank.elevationM, 2).padStart(8)}  ${fixed(tank.initialLevelM, 2)}     ${fixed(tank.minimumLevelM, 2)}    ${fixed(tank.maximumLevelM, 2)}    ${fixed(tank.diameterM, 2)}    0       *         No`]),
    section('PIPES', 'ID               Node1            Node2            Length(m)  Diam(mm)  Roughness  MinorLoss  Status',
      allPipes.map((pipe) => ` ${pipe.id.padEnd(16)} ${pipe.from.padEnd(16)} ${pipe.to.padEnd(16)} ${String(pipe.lengthM).padStart(9)}  ${String(pipe.diameterMm).padStart(8)}  ${String(pipe.roughness).padStart(9)}  0          Open`)),
    section('PUMPS', 'ID               Node1            Node2            Parameters', [
      ' PU-1             J-PS-IN          J-PS-OUT         HEAD PC-DUTY',
      ' PU-2             J-PS-IN          J-PS-OUT         HEAD PC-DUTY',
    ]),
    section('VALVES', 'ID               Node1            Node2            Diam(mm)  Type  Setting  MinorLoss',
      [` V-D3-PRV         J-TR-D3-PRV      ${district3.inletNodeId.padEnd(16)} 300       PRV   ${fixed(PRV_SETTING_M, 1)}     0`]),
    section('EMITTERS', 'Junction         Coefficient', []),
    section('STATUS', 'ID               Status/Setting', []),
    section('PATTERNS', 'ID               Multipliers (hour 0 = Monday 00:00)', patternRows),
    // Identical duty pumps: 90 L/s (324 m3/h) at 60 m each.
    section('CURVES', 'ID               X-Value(m3/h)  Y-Value(m)', [
      ';PUMP: duty pump head curve',
      ' PC-DUTY          0              75',
      ' PC-DUTY          324            60',
      ' PC-DUTY          540            38',
    ]),
    // PU-1 is the duty pump and PU-2 the assist, both switched on tank level so T-1 cycles
    // between about 4 and 7.5 m.
    section('CONTROLS', '', [
      ' LINK PU-1 CLOSED IF NODE T-1 ABOVE 7.5',
      ' LINK PU-1 OPEN IF NODE T-1 BELOW 4.5',
      ' LINK PU-2 OPEN IF NODE T-1 BELOW 4',
      ' LINK PU-2 CLOSED IF NODE T-1 ABOVE 6.5',
    ]),
    section('RULES', '', []),
    section('ENERGY', '', [' Global Efficiency  75', ' Global Price       0', ' Demand Charge      0']),
    section('QUALITY', 'Node             InitQual', []),
    section('REACTIONS', '', [' Order Bulk  1', ' Order Tank  1', ' Order Wall  1', ' Global Bulk 0', ' Global Wall 0']),
    section('MIXING', '', []),
    section('TIMES', '', [
      ' Duration           168:00',
      ' Hydraulic Timestep 0:01',
      ' Quality Timestep   0:05',
      ' Pattern Timestep   1:00',
      ' Pattern Start      0:00',
      ' Report Timestep    0:01',
      ' Report Start       0:00',
      ' Start ClockTime    12 am',
      ' Statistic          None',
    ]),
    section('REPORT', '', [' Status  No', ' Summary No']),
    // Pressure-driven demand: a closed inlet or a burst starves customers instead of producing
    // impossible negative pressures.
    section('OPTIONS', '', [
      ' Units              CMH',
      ' Headloss           H-W',
      ' Specific Gravity   1.0',
      ' Viscosity          1.0',
      ' Trials             100',
      ' Accuracy           0.001',
      ' CHECKFREQ          2',
      ' MAXCHECK           10',
      ' DAMPLIMIT          0',
      ' Unbalanced         Continue 10',
      ' Pattern            DIURNAL-WEEK',
      ' Demand Multiplier  1.0',
      ' Emitter Exponent   0.5',
      ' Quality            None',
      ' Diffusivity        1.0',
      ' Tolerance          0.01',
      ' Demand Model       PDA',
      ' Minimum Pressure   0',
      ' Required Pressure  10',
      ' Pressure Exponent  0.5',
    ]),
    section('COORDINATES', 'Node             X-Coord(lon)  Y-Coord(lat)',
      [...points.entries()].map(([id, point]) => ` ${id.padEnd(16)} ${fixed(point.lon, 6)}  ${fixed(point.lat, 6)}`)),
    section('VERTICES', 'Link             X-Coord       Y-Coord', []),
    section('LABELS', '', []),
    section('BACKDROP', '', []),
    '[END]\n',
  ];
  return parts.join('\n');
}

export const DEMO_TOWN_INP_PATH = fileURLToPath(new URL('./demo-town.inp', import.meta.url));

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(DEMO_TOWN_INP_PATH, buildDemoTownInp());
  console.log(`wrote ${DEMO_TOWN_INP_PATH}`);
}
