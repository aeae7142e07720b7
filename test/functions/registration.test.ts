import { app } from '@azure/functions';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SHARD_POISON_QUEUE, SHARD_QUEUE } from '../../src/fleet/queue.js';
import * as handlers from '../../src/handlers/functions.js';
import * as fleet from '../../src/handlers/fleet.js';

// What the built entry files register, as the Functions host would load them (package.json "main").

const DIST = fileURLToPath(new URL('../../dist/functions/', import.meta.url));
const registered = new Map<string, { kind: 'timer' | 'http' | 'storageQueue'; options: Record<string, unknown> }>();

beforeAll(async () => {
  vi.spyOn(app, 'timer').mockImplementation((name, options) => void registered.set(name, { kind: 'timer', options: options as never }));
  vi.spyOn(app, 'http').mockImplementation((name, options) => void registered.set(name, { kind: 'http', options: options as never }));
  vi.spyOn(app, 'storageQueue').mockImplementation((name, options) => void registered.set(name, { kind: 'storageQueue', options: options as never }));
  for (const file of (await readdir(DIST)).filter((f) => f.endsWith('.js'))) await import(`${DIST}${file}`);
});
afterAll(() => vi.restoreAllMocks());

describe('function registration', () => {
  it('registers exactly the seven functions', () => {
    expect([...registered.keys()].sort()).toEqual(['checkDrift', 'manualSync', 'planAllowlists', 'reconcileShard', 'reconcileShardPoison', 'runStatus', 'syncAllowlists']);
  });

  it('schedules the timers from app settings, never on start-up', () => {
    expect(registered.get('syncAllowlists')).toMatchObject({ kind: 'timer', options: { schedule: '%TAGWALL_SCHEDULE%', runOnStartup: false } });
    expect(registered.get('checkDrift')).toMatchObject({ kind: 'timer', options: { schedule: '%TAGWALL_DRIFT_SCHEDULE%', runOnStartup: false } });
  });

  it('serves the dry run on GET /api/plan with a function key, and manual apply on POST /api/sync with the admin key', () => {
    expect(registered.get('planAllowlists')).toMatchObject({ kind: 'http', options: { methods: ['GET'], authLevel: 'function', route: 'plan' } });
    expect(registered.get('manualSync')).toMatchObject({ kind: 'http', options: { methods: ['POST'], authLevel: 'admin', route: 'sync' } });
  });

  it('serves run status on GET /api/runs/{runId} with a function key', () => {
    expect(registered.get('runStatus')).toMatchObject({ kind: 'http', options: { methods: ['GET'], authLevel: 'function', route: 'runs/{runId}' } });
  });

  it('reads shards from the queue startFleetRun fills, and the shards the host gave up on from its poison queue', () => {
    expect(registered.get('reconcileShard')).toMatchObject({ kind: 'storageQueue', options: { queueName: SHARD_QUEUE, connection: 'AzureWebJobsStorage' } });
    expect(registered.get('reconcileShardPoison')).toMatchObject({ kind: 'storageQueue', options: { queueName: SHARD_POISON_QUEUE, connection: 'AzureWebJobsStorage' } });
  });

  it('has the host decode base64 (what the queue adapter sends) and give up on a shard after five deliveries', async () => {
    const host = JSON.parse(await readFile(fileURLToPath(new URL('../../host.json', import.meta.url)), 'utf8')) as { extensions: { queues: Record<string, unknown> } };
    expect(host.extensions.queues).toEqual({ maxDequeueCount: 5, messageEncoding: 'base64', visibilityTimeout: '00:00:30', batchSize: 4, newBatchThreshold: 2 });
  });

  it('wires each function to its handler in src/', () => {
    const handlerOf = (name: string) => registered.get(name)?.options.handler as { name: string } | undefined;
    expect(handlerOf('syncAllowlists')?.name).toBe(handlers.syncAllowlists.name);
    expect(handlerOf('checkDrift')?.name).toBe(handlers.checkDrift.name);
    expect(handlerOf('planAllowlists')?.name).toBe(handlers.planAllowlists.name);
    expect(handlerOf('manualSync')?.name).toBe(handlers.manualSync.name);
    expect(handlerOf('reconcileShard')?.name).toBe(fleet.reconcileShard.name);
    expect(handlerOf('reconcileShardPoison')?.name).toBe(fleet.reconcileShardPoison.name);
    expect(handlerOf('runStatus')?.name).toBe(fleet.runStatus.name);
  });
});
