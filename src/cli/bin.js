#!/usr/bin/env node
// Entry point of the `tirta` command: loads the TypeScript sources through tsx, then runs the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// A failed start may leave a connection retrying in the background: failure ends the process.
if (code !== 0) process.exit(code);
