// Reads a site configuration file (YAML, or JSON which YAML also parses) and validates it once.
// Every later stage trusts the returned SiteConfig.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { siteConfigSchema, type SiteConfig } from '../contracts/site.js';
import { ConfigError, formatPath } from '../errors.js';

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
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      file,
      document.errors.map((error) => ({
        path: '',
        message: `${error.linePos?.[0] ? `line ${error.linePos[0].line} column ${error.linePos[0].col}: ` : ''}${error.message.split('\n')[0]}`,
      })),
    );
  }
  const result = siteConfigSchema.safeParse(document.toJS({ maxAliasCount: 100 }));
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
    );
  }
  return result.data;
}
