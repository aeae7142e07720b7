import { buildAllowlist } from '../../src/core/allowlist.js';
import { formatRule } from '../../src/core/ipv4.js';
import { loadServiceTagFile } from '../../src/sources/file.js';

// The least a `plan --json` process must do: read the file, plan, print. The benchmark
// runs it beside the real CLI, so the gap between the two is what the CLI itself adds.
const [file, maxRules] = process.argv.slice(2);
const doc = await loadServiceTagFile(file!);
const allowlist = buildAllowlist(doc, { select: ['*'], maxRules: Number(maxRules ?? 1000) });
process.stdout.write(`${JSON.stringify({ selected: allowlist.selected, rules: allowlist.rules.map(formatRule), stats: allowlist.stats, warnings: allowlist.warnings })}\n`);
