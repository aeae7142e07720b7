import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { PUBLIC_FILE } from './data.js';
import { registerSection } from './harness.js';

/** A full collection, without asking the user to start node with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const MB = 1024 * 1024;

registerSection('memory', async (ctx) => {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  let doc: ServiceTagDocument | undefined = await loadServiceTagFile(PUBLIC_FILE);
  collectGarbage();
  const held = process.memoryUsage().heapUsed - before;
  ctx.record({ label: 'heap held by one parsed Public document', unit: 'MB', median: held / MB, min: held / MB, samples: 1, note: `${doc.tags.length} tags` });
  doc = undefined;
  const usage = process.memoryUsage();
  ctx.record({ label: 'heap used now (benchmark process)', unit: 'MB', median: usage.heapUsed / MB, min: usage.heapUsed / MB, samples: 1 });
  const peak = process.resourceUsage().maxRSS / 1024;
  ctx.record({ label: 'peak RSS so far (benchmark process)', unit: 'MB', median: peak, min: peak, samples: 1, note: 'includes every section run before this one' });
});
