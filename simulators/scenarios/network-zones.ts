// Where the hydraulic network's junctions lie among the site's zones, and how far apart points
// are: the small geometry the scenario player (ground-truth zones) and the complaint generator
// (customers per junction, who sees a burst) need. Simulators import only src/contracts, so this
// is a sibling of src/geo's zone lookup rather than a use of it.
import type { Polygon, Zone } from '../../src/contracts/site.js';

export interface LonLat {
  lon: number;
  lat: number;
}

const METRES_PER_DEGREE_LAT = 110_574;
const METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320;

/** Ray casting over a GeoJSON polygon (outer ring minus holes), positions [lon, lat]. */
export function pointInPolygon(point: LonLat, polygon: Polygon): boolean {
  const [outer, ...holes] = polygon.coordinates;
  if (outer === undefined || !pointInRing(point, outer)) return false;
  return !holes.some((hole) => pointInRing(point, hole));
}

function pointInRing(point: LonLat, ring: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > point.lat !== yj > point.lat && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The first zone containing the point, as the service's zone lookup decides it. */
export function zoneIdAt(point: LonLat, zones: readonly Zone[]): string | null {
  return zones.find((zone) => pointInPolygon(point, zone.boundary))?.id ?? null;
}

/** Equirectangular distance: metres-accurate over a town. */
export function distanceM(a: LonLat, b: LonLat): number {
  const meanLatRad = (((a.lat + b.lat) / 2) * Math.PI) / 180;
  const eastM = (b.lon - a.lon) * METRES_PER_DEGREE_LON_AT_EQUATOR * Math.cos(meanLatRad);
  const northM = (b.lat - a.lat) * METRES_PER_DEGREE_LAT;
  return Math.hypot(eastM, northM);
}

/** The point `distance` metres away on `bearingRad` (0 north, clockwise). */
export function offsetM(point: LonLat, distance: number, bearingRad: number): LonLat {
  const northM = distance * Math.cos(bearingRad);
  const eastM = distance * Math.sin(bearingRad);
  return {
    lat: point.lat + northM / METRES_PER_DEGREE_LAT,
    lon: point.lon + eastM / (METRES_PER_DEGREE_LON_AT_EQUATOR * Math.cos((point.lat * Math.PI) / 180)),
  };
}
