// Reads a site configuration file (YAML, or JSON which YAML also parses) and validates it once.
// Every later stage trusts the returned SiteConfig.
import { readFile } from 'node:fs/promises';
import { siteConfigSchema, type SiteConfig } from '../contracts/site.js';
import { parseConfigText } from '../contracts/config-text.js';
import { ConfigError } from '../errors.js';

export async function loadSiteConfig(file: string): Promise<SiteConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `cannot read file: ${(cause as Error).message}`;
    throw new ConfigError(file, [{ path: '', message: reason }], { cause });
  }
  return parseSiteConfig(text, file);
}

export function parseSiteConfig(text: string, file: string): SiteConfig {
  return parseConfigText(text, file, siteConfigSchema);
}
