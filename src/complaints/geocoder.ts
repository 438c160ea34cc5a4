// Addresses to places. `Geocoder` is the port a utility implements to plug in a real geocoding
// service; `StreetGeocoder` is the built-in one, matching the street names of the site's
// customer directory (`customers.streets`) inside free-text addresses.
import type { Street } from '../contracts/customers.js';

/** A point (the zone follows from the zone boundaries) or directly a zone, with or without a point. */
export type GeocodeResult = { lat: number; lon: number; zone?: string } | { zone: string };

export interface Geocoder {
  /** Undefined when the address cannot be placed; a rejection means the service failed, not the address. */
  geocode(address: string): Promise<GeocodeResult | undefined>;
}

/** Words that name the kind of street, not the street: "Jl. Merdeka" and "Jalan Merdeka" are one street. */
const STREET_PREFIXES = new Set(['jl', 'jln', 'jalan']);
/** Abbreviations written for a word that is part of the name: "Gg. Sukajadi" is "Gang Sukajadi". */
const ABBREVIATIONS = new Map([['gg', 'gang']]);

/** Lower case, no accents, no punctuation, no street prefixes, abbreviations spelled out, as a list of words. */
export function addressWords(text: string): string[] {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '' && !STREET_PREFIXES.has(word))
    .map((word) => ABBREVIATIONS.get(word) ?? word);
}

interface StreetPattern {
  words: string[];
  street: Street;
}

export class StreetGeocoder implements Geocoder {
  private readonly patterns: StreetPattern[];

  constructor(streets: readonly Street[]) {
    this.patterns = streets
      .flatMap((street) => [street.name, ...street.aliases].map((name) => ({ words: addressWords(name), street })))
      .filter((pattern) => pattern.words.length > 0);
  }

  async geocode(address: string): Promise<GeocodeResult | undefined> {
    const street = this.match(address);
    if (street === undefined) return undefined;
    return street.location === undefined ? { zone: street.zone } : { lat: street.location.lat, lon: street.location.lon, zone: street.zone };
  }

  /**
   * The street whose name appears, word for word, in the address. The longest name wins, so
   * "Merdeka Raya" beats "Merdeka"; among equally long names, the one written first.
   */
  match(address: string): Street | undefined {
    const words = addressWords(address);
    let best: { length: number; at: number; street: Street } | undefined;
    for (const pattern of this.patterns) {
      const at = indexOfRun(words, pattern.words);
      if (at < 0) continue;
      const length = pattern.words.length;
      if (best === undefined || length > best.length || (length === best.length && at < best.at)) best = { length, at, street: pattern.street };
    }
    return best?.street;
  }
}

function indexOfRun(words: readonly string[], run: readonly string[]): number {
  outer: for (let start = 0; start + run.length <= words.length; start += 1) {
    for (let offset = 0; offset < run.length; offset += 1) if (words[start + offset] !== run[offset]) continue outer;
    return start;
  }
  return -1;
}
