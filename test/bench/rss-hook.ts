import { writeSync } from 'node:fs';

// Loaded with `node --import` into a child the benchmark starts: reports the child's peak
// resident set on the way out, which the parent cannot read from outside.
process.on('exit', () => {
  writeSync(2, `\ntagwall-bench-maxrss-kb=${process.resourceUsage().maxRSS}\n`);
});
