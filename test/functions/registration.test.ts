import { app } from '@azure/functions';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as handlers from '../../src/handlers/functions.js';

// What the built entry files register, as the Functions host would load them (package.json "main").

const DIST = fileURLToPath(new URL('../../dist/functions/', import.meta.url));
const registered = new Map<string, { kind: 'timer' | 'http'; options: Record<string, unknown> }>();

beforeAll(async () => {
  vi.spyOn(app, 'timer').mockImplementation((name, options) => void registered.set(name, { kind: 'timer', options: options as never }));
  vi.spyOn(app, 'http').mockImplementation((name, options) => void registered.set(name, { kind: 'http', options: options as never }));
  for (const file of (await readdir(DIST)).filter((f) => f.endsWith('.js'))) await import(`${DIST}${file}`);
});
afterAll(() => vi.restoreAllMocks());

describe('function registration', () => {
  it('registers exactly the four functions', () => {
    expect([...registered.keys()].sort()).toEqual(['checkDrift', 'manualSync', 'planAllowlists', 'syncAllowlists']);
  });

  it('schedules the timers from app settings, never on start-up', () => {
    expect(registered.get('syncAllowlists')).toMatchObject({ kind: 'timer', options: { schedule: '%TAGWALL_SCHEDULE%', runOnStartup: false } });
    expect(registered.get('checkDrift')).toMatchObject({ kind: 'timer', options: { schedule: '%TAGWALL_DRIFT_SCHEDULE%', runOnStartup: false } });
  });

  it('serves the dry run on GET /api/plan with a function key, and manual apply on POST /api/sync with the admin key', () => {
    expect(registered.get('planAllowlists')).toMatchObject({ kind: 'http', options: { methods: ['GET'], authLevel: 'function', route: 'plan' } });
    expect(registered.get('manualSync')).toMatchObject({ kind: 'http', options: { methods: ['POST'], authLevel: 'admin', route: 'sync' } });
  });

  it('wires each function to its handler in src/', () => {
    const handlerOf = (name: string) => registered.get(name)?.options.handler as { name: string } | undefined;
    expect(handlerOf('syncAllowlists')?.name).toBe(handlers.syncAllowlists.name);
    expect(handlerOf('checkDrift')?.name).toBe(handlers.checkDrift.name);
    expect(handlerOf('planAllowlists')?.name).toBe(handlers.planAllowlists.name);
    expect(handlerOf('manualSync')?.name).toBe(handlers.manualSync.name);
  });
});
