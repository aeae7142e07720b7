#!/usr/bin/env node
import { processIO } from './io.js';
import { runCli } from './program.js';
import { shutdownTelemetry } from '../telemetry/setup.js';

// `tagwall plan ... | head` closes the pipe early; that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const code = await runCli(process.argv.slice(2), processIO());
// A short process exports what it recorded before it ends (nothing, when no exporter was started).
await shutdownTelemetry();
// Let pending writes to a pipe drain instead of cutting them off with process.exit.
process.exitCode = code;
