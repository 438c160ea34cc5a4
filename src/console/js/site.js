// What the console knows of the site: its tags (kind, unit, zone) and the time zone times are shown
// in. The site's own zone is used when an answer carries it (`timezone`); else the browser's.
import { api } from './api.js';
import { setTimeZone } from './dom.js';

let tags;

/** The site's tags, fetched once per page. */
export async function siteTags() {
  tags ??= api('/api/v1/tags').then((body) => {
    if (typeof body?.timezone === 'string') setTimeZone(body.timezone);
    return body.tags ?? [];
  });
  try {
    return await tags;
  } catch (error) {
    tags = undefined;
    throw error;
  }
}

/** Zone ids of the site, in order, from its tags. */
export async function siteZones() {
  const list = await siteTags();
  return [...new Set(list.map((tag) => tag.zone).filter((zone) => zone !== null))].sort();
}

/** Loads what the console needs before the first view; the time zone above all. */
export async function loadSite() {
  try {
    await siteTags();
  } catch {
    // A role that may not read tags still gets the console; views that need tags say so.
  }
}
