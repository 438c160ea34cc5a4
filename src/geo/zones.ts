// Which zone a point lies in: ray casting over each zone's GeoJSON polygon (lon/lat).
import type { LatLon, Polygon, Zone } from '../contracts/site.js';

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
    const crosses = yi > point.lat !== yj > point.lat && point.lon < ((xj - xi) * (point.lat - yi)) / (yj - yi) + xi;
    if (crosses) inside = !inside;
  }
  return inside;
}

/** The first zone containing the point, or undefined when it lies outside every zone. */
export function zoneAt(point: LatLon, zones: readonly Zone[]): Zone | undefined {
  return zones.find((zone) => pointInPolygon(point, zone.boundary));
}
