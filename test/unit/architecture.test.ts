// The dependency direction of docs/ARCHITECTURE.md, checked by reading every import.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return full.endsWith('.ts') ? [full] : [];
  });
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const imports = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g)];
  return imports.map((match) => path.normalize(path.join(path.dirname(file), match[1] ?? match[2]!)));
}

const rules: Array<{ from: string; mayNotImport: string[]; except?: string[] }> = [
  { from: 'connectors', mayNotImport: ['src', 'simulators'], except: ['src/contracts', 'src/errors.ts', 'src/log.ts'] },
  { from: 'simulators', mayNotImport: ['src', 'connectors'], except: ['src/contracts', 'src/errors.ts'] },
  { from: 'src/contracts', mayNotImport: ['src', 'connectors', 'simulators'], except: ['src/contracts', 'src/errors.ts'] },
  { from: 'src/storage', mayNotImport: ['src/api', 'src/runtime', 'src/cli', 'src/ingest'] },
  { from: 'src/complaints', mayNotImport: ['src/api', 'src/runtime', 'src/cli'] },
  { from: 'src/ingest', mayNotImport: ['src/api', 'src/runtime', 'src/cli'] },
  { from: 'src/engine', mayNotImport: ['src/api', 'src/runtime', 'src/cli'] },
  { from: 'src/workorders', mayNotImport: ['src/api', 'src/runtime', 'src/cli', 'src/engine'] },
  { from: 'src/access', mayNotImport: ['src/api', 'src/runtime', 'src/cli', 'src/engine', 'src/replay'] },
  { from: 'src/api', mayNotImport: ['src/runtime', 'src/cli'] },
  // Scenario checks judge the system by what its API answers, never by reading its insides.
  { from: 'src/scenario-run', mayNotImport: ['src/engine', 'src/workorders', 'src/complaints', 'src/storage', 'src/ingest', 'src/api', 'src/cli'] },
];

describe('architecture: dependency direction', () => {
  for (const rule of rules) {
    it(`${rule.from} does not import ${rule.mayNotImport.join(', ')}${rule.except ? ` (except ${rule.except.join(', ')})` : ''}`, () => {
      const violations: string[] = [];
      for (const file of sourceFiles(rule.from)) {
        for (const target of relativeImports(file)) {
          const allowed = rule.except?.some((prefix) => target === prefix || target.startsWith(`${prefix}/`) || target === prefix.replace(/\.ts$/, '.js'));
          const forbidden = rule.mayNotImport.some((prefix) => target.startsWith(`${prefix}/`));
          if (forbidden && !allowed) violations.push(`${file} imports ${target}`);
        }
      }
      expect(violations).to.deep.equal([]);
    });
  }
});
