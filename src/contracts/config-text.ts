// Parses a configuration document (YAML, or JSON which YAML also reads) and validates it with a
// zod schema; any failure is a ConfigError naming the file, each path inside it and why.
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, formatPath } from '../errors.js';

export function parseConfigText<Schema extends z.ZodType>(text: string, file: string, schema: Schema): z.output<Schema> {
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
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // An alias bomb (billions of laughs) or nesting too deep to build: refused as bad configuration.
    throw new ConfigError(file, [{ path: '', message: (cause as Error).message }], { cause });
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(file, result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })));
  }
  return result.data;
}
