// What a zone boundary means: which points lie in which zone (ray casting over the GeoJSON
// polygon, outer ring minus holes, positions [lon, lat]), and distances over a town. The
// service places complaints with it; the simulator places junctions and customers with it.
import type { LatLon, Polygon, Zone } from './site.js';

const METRES_PER_DEGREE_LAT = 110_574;
const METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320;

export function pointInPolygon(point: LatLon, polygon: Polygon): boolean {
  const [outer, ...holes] = polygon.coordinates;
  if (outer === undefined || !pointInRing(point, outer)) return false;
  return !holes.some((hole) => pointInRing(point, hole));
}

function pointInRing(point: LatLon, ring: ReadonlyArray<readonly [number, number]>): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i]!;
    const [xj, yj] = ring[j]!;
    if (yi > point.lat !== yj > point.lat && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The first zone containing the point, or undefined when it lies outside every zone. */
export function zoneAt(point: LatLon, zones: readonly Zone[]): Zone | undefined {
  return zones.find((zone) => pointInPolygon(point, zone.boundary));
}

/** Equirectangular distance: metres-accurate over a town. */
export function distanceM(a: LatLon, b: LatLon): number {
  const meanLatRad = (((a.lat + b.lat) / 2) * Math.PI) / 180;
  const eastM = (b.lon - a.lon) * METRES_PER_DEGREE_LON_AT_EQUATOR * Math.cos(meanLatRad);
  const northM = (b.lat - a.lat) * METRES_PER_DEGREE_LAT;
  return Math.hypot(eastM, northM);
}

/** The point `distance` metres away on `bearingRad` (0 north, clockwise). */
export function offsetM(point: LatLon, distance: number, bearingRad: number): LatLon {
  const northM = distance * Math.cos(bearingRad);
  const eastM = distance * Math.sin(bearingRad);
  return {
    lat: point.lat + northM / METRES_PER_DEGREE_LAT,
    lon: point.lon + eastM / (METRES_PER_DEGREE_LON_AT_EQUATOR * Math.cos((point.lat * Math.PI) / 180)),
  };
}
