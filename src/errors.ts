// Typed errors: each carries a stable code, and where it applies the failing field and the cause.

export class TirtaError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command-line usage or configuration: the process exits with code 2. */
export class UsageError extends TirtaError {
  constructor(message: string) {
    super('bad_usage', message);
  }
}

export interface ConfigIssue {
  /** Where inside the file, such as `tags[12].modbus.address`; empty for the whole document. */
  path: string;
  message: string;
}

export class ConfigError extends TirtaError {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super('bad_config', `${file}: invalid configuration\n${issues.map((issue) => `  ${issue.path || '(document)'}: ${issue.message}`).join('\n')}`, options);
  }
}

/** Renders a zod issue path the way people write it: `tags[12].modbus.address`; a key that is empty or holds `.`, brackets, quotes or spaces as `["a.b"]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && (part === '' || /[.[\]"\s\p{Cc}]/u.test(part))) out += `[${JSON.stringify(part)}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}
