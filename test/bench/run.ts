import { parseArgs } from 'node:util';
import { markdownTable, missedTargets, registeredSections, runSections } from './harness.js';
// Each module registers its sections when imported; add a module here to add sections.
import './core.js';
import './cli.js';
import './memory.js';
import './reconcile.js';
import './alerts.js';
import './state.js';
import './churn.js';
import { setFleetScale } from './fleet.js';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '15' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    // A fraction of the fleet benches' full size, for trying them out on a busy machine.
    'fleet-scale': { type: 'string', default: '1' },
  },
});

if (values.list) {
  for (const s of registeredSections()) console.log(s.name);
} else {
  setFleetScale(Number(values['fleet-scale']));
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`--iterations must be a whole number, not ${values.iterations}`);
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !registeredSections().some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown section ${unknown.join(', ')}; --list shows them`);
  // Progress goes to stderr so that stdout is just the table (or the JSON).
  const rows = await runSections(only, iterations, (line) => process.stderr.write(`${line}\n`));
  console.log(values.json ? JSON.stringify(rows, null, 2) : markdownTable(rows));
  const missed = missedTargets(rows);
  if (missed.length > 0) {
    process.stderr.write(`\n${missed.length} target${missed.length === 1 ? '' : 's'} missed: ${missed.map((r) => r.label).join('; ')}\n`);
    if (values.strict) process.exitCode = 1;
  }
}
