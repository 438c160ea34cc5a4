// `npm run bench`: runs every benchmark of the project and writes one report, as JSON and as a
// Markdown table, with the machine it ran on. `npm run bench -- NAME` runs one benchmark.
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchmarks, type BenchmarkResult } from './benchmarks.js';

const outputDir = path.resolve(process.env.TIRTA_BENCH_DIR ?? 'bench-results');
const only = process.argv.slice(2);
const selected = benchmarks.filter((benchmark) => only.length === 0 || only.includes(benchmark.name));
if (selected.length === 0) {
  console.error(`no benchmark named ${only.join(', ')}; known: ${benchmarks.map((benchmark) => benchmark.name).join(', ')}`);
  process.exit(2);
}

const machine = {
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  os: `${os.type()} ${os.release()}`,
  node: process.version,
};
const results: BenchmarkResult[] = [];
for (const [index, benchmark] of selected.entries()) {
  console.error(`[${index + 1}/${selected.length}] ${benchmark.name}: ${benchmark.description}`);
  const startedAt = Date.now();
  const result = await benchmark.run();
  console.error(`  done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  results.push(result);
}

await mkdir(outputDir, { recursive: true });
const report = { generatedAt: new Date().toISOString(), machine, results };
await writeFile(path.join(outputDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
const rows = results.flatMap((result) => result.figures.map((figure) => `| ${result.name} | ${figure.name} | ${formatNumber(figure.value)} | ${figure.unit} | ${figure.note ?? ''} |`));
const markdown = [
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}`,
  '',
  '| benchmark | figure | value | unit | note |',
  '| --- | --- | ---: | --- | --- |',
  ...rows,
  '',
].join('\n');
await writeFile(path.join(outputDir, 'report.md'), markdown);
console.log(markdown);

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toPrecision(3);
}
