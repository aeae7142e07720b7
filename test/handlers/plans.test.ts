import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { manualSync, planAllowlists } from '../../src/handlers/functions.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { AzuriteWithQueue } from '../helpers/azurite.js';
import { BUNDLED, FIXTURES } from '../helpers/cli.js';
import { stateContainer, useFunctionsHost } from '../helpers/functions-host.js';
import { seedVault, vaultId } from '../helpers/emulator.js';

// Reviewed plans in the Functions app: GET /api/plan stores the plan it shows and names it by a
// planId; POST /api/sync {"apply": true, "planId"} writes exactly that plan, through the same
// reviewed-plan step as `tagwall apply`. The handlers as the host calls them, state in Azurite,
// ARM from the emulator; writes are counted in the emulator's request log.

const OFFICE = '81.2.69.142';

interface PlanTarget { vault: string; base: { rules: string[] }; add: string[]; remove: string[]; nextRules: string[] }
interface PlanBody {
  planId: string;
  expiresAt: string;
  plan: { version: number; createdAt: string; serviceTags: { sha256: string }; targets: PlanTarget[] };
  vaults: { vault: string; outcome: string }[];
}
interface ApplyBody {
  planId: string;
  runId?: string;
  error?: { code: string; message: string };
  vaults: { vault: string; outcome: string; reasons: { code: string }[] }[];
}

let emulator: Emulator;
let azurite: AzuriteWithQueue;
const env = useFunctionsHost(
  (e, a) => {
    emulator = e;
    azurite = a;
  },
  () => ({ TAGWALL_ALERT_WEBHOOK_URL: undefined, TAGWALL_PLAN_MAX_AGE: undefined }),
);
const logs: string[] = [];

function context(name: string): InvocationContext {
  return new InvocationContext({ functionName: name, invocationId: `test-${name}`, logHandler: (_level, ...args) => void logs.push(args.map(String).join(' ')) });
}

function configure(source = BUNDLED): void {
  env.set({
    TAGWALL_CONFIG: JSON.stringify({
      serviceTags: { source: 'file', path: source },
      arm: { endpoint: emulator.url },
      targets: [
        { vault: vaultId('kv-app'), select: ['AzureDevOps'] },
        { vault: vaultId('kv-open'), select: ['AzureDevOps'] },
      ],
    }),
  });
}

async function getPlan(query: Record<string, string> = {}): Promise<HttpResponseInit> {
  return planAllowlists(new HttpRequest({ method: 'GET', url: 'https://func.example/api/plan', query }), context('planAllowlists'));
}

async function makePlan(query: Record<string, string> = {}): Promise<PlanBody> {
  const res = await getPlan(query);
  expect(res.status).toBe(200);
  return res.jsonBody as PlanBody;
}

async function post(body: unknown): Promise<HttpResponseInit> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return manualSync(new HttpRequest({ method: 'POST', url: 'https://func.example/api/sync', body: { string: text } }), context('manualSync'));
}

const apply = (planId: unknown): Promise<HttpResponseInit> => post({ apply: true, planId });

async function armRequests(): Promise<{ method: string; path: string }[]> {
  return emulator.control.requests({ kind: 'arm' });
}

async function writes(): Promise<{ method: string; path: string }[]> {
  return (await armRequests()).filter((r) => r.method !== 'GET');
}

async function rulesOf(name: string): Promise<string[]> {
  const acls = (await emulator.control.vault(name))?.properties.networkAcls;
  return (acls?.ipRules ?? []).map((r) => (r.value.includes('/') ? r.value : `${r.value}/32`)).sort();
}

async function blobNames(): Promise<string[]> {
  const names: string[] = [];
  if (!(await stateContainer(azurite).exists())) return names;
  for await (const b of stateContainer(azurite).listBlobsFlat()) names.push(b.name);
  return names.sort();
}

async function storedPlan(planId: string): Promise<{ planId: string; plan: PlanBody['plan']; applied?: { at: string; runId?: string } }> {
  return JSON.parse((await stateContainer(azurite).getBlobClient(`plans/${planId}.json`).downloadToBuffer()).toString('utf8')) as {
    planId: string;
    plan: PlanBody['plan'];
    applied?: { at: string; runId?: string };
  };
}

async function putBlob(name: string, body: unknown): Promise<void> {
  await stateContainer(azurite).createIfNotExists();
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  await stateContainer(azurite).getBlockBlobClient(name).upload(text, Buffer.byteLength(text));
}

const errorOf = (res: HttpResponseInit) => (res.jsonBody as { error: { code: string; message: string } }).error;

beforeEach(async () => {
  logs.length = 0;
  await emulator.control.reset({
    vaults: [seedVault('kv-app', { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: OFFICE }] }), seedVault('kv-open', { defaultAction: 'Deny', ipRules: [] })],
  });
  await stateContainer(azurite).deleteIfExists();
  env.set({ TAGWALL_PLAN_MAX_AGE: undefined });
  configure();
});

describe('GET /api/plan stores the plan it shows', () => {
  it('answers a planId, the plan and the dry-run report; the plan is stored under plans/<planId>.json; nothing is written', async () => {
    const body = await makePlan();
    expect(body.planId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.vaults.map((v) => v.outcome)).toEqual(['pending', 'pending']);
    expect(body.plan.targets.map((t) => t.vault)).toEqual([vaultId('kv-app'), vaultId('kv-open')]);
    expect(body.plan.targets[0]!.base.rules).toEqual([`${OFFICE}/32`]);
    expect(body.plan.targets[0]!.add.length).toBeGreaterThan(0);
    // The default max age: 24 hours from the plan's creation.
    expect(Date.parse(body.expiresAt) - Date.parse(body.plan.createdAt)).toBe(24 * 3_600_000);
    const stored = await storedPlan(body.planId);
    expect(stored.planId).toBe(body.planId);
    expect(stored.plan).toEqual(body.plan);
    expect(stored.applied).toBeUndefined();
    expect(await writes()).toEqual([]);
    // Each GET is a plan of its own.
    const again = await makePlan();
    expect(again.planId).not.toBe(body.planId);
    expect(await blobNames()).toEqual(expect.arrayContaining([`plans/${body.planId}.json`, `plans/${again.planId}.json`]));
  });

  it('as text: the table, the planId in a header and a closing line, and the plan stored', async () => {
    const res = await getPlan({ format: 'text' });
    expect(res.status).toBe(200);
    const planId = (res.headers as Record<string, string>)['x-tagwall-plan-id']!;
    expect(planId).toMatch(/^[0-9a-f-]{36}$/);
    expect(String(res.body)).toMatch(/^TARGET\s+OUTCOME/m);
    expect(String(res.body)).toContain(`"planId": "${planId}"`);
    expect((await storedPlan(planId)).plan.targets).toHaveLength(2);
  });
});

describe('POST /api/sync {"apply": true, "planId"}', () => {
  it('writes exactly the stored plan: its targets only, one write each, the reviewed rules; a second apply is refused PLAN_APPLIED with no request', async () => {
    // The plan covers kv-app alone, although kv-open has changes pending too.
    const { planId, plan } = await makePlan({ vault: vaultId('kv-app') });
    expect(plan.targets.map((t) => t.vault)).toEqual([vaultId('kv-app')]);
    await emulator.control.clearRequests();

    const res = await apply(planId);
    expect(res.status).toBe(200);
    const body = res.jsonBody as ApplyBody;
    expect(body.planId).toBe(planId);
    expect(body.vaults.map((v) => [v.vault, v.outcome])).toEqual([[vaultId('kv-app'), 'applied']]);
    const written = await writes();
    expect(written.map((w) => w.method)).toEqual(['PATCH']);
    expect(written[0]!.path).toContain('/vaults/kv-app');
    expect((await armRequests()).some((r) => r.path.includes('/vaults/kv-open'))).toBe(false);
    expect(await rulesOf('kv-app')).toEqual([...plan.targets[0]!.nextRules].map((r) => (r.includes('/') ? r : `${r}/32`)).sort());
    expect(await rulesOf('kv-open')).toEqual([]);
    // The stored plan says it was applied, and by which run.
    expect((await storedPlan(planId)).applied).toMatchObject({ at: expect.any(String), runId: body.runId });

    await emulator.control.clearRequests();
    const twice = await apply(planId);
    expect(twice.status).toBe(409);
    expect(errorOf(twice)).toMatchObject({ code: 'PLAN_APPLIED', message: expect.stringContaining(body.runId!) });
    expect(await armRequests()).toEqual([]);
  });

  it('two applies of one plan at once: one writes, the other is refused PLAN_APPLIED', async () => {
    const { planId } = await makePlan();
    await emulator.control.clearRequests();
    const answers = await Promise.all([apply(planId), apply(planId)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(errorOf(answers.find((a) => a.status === 409)!).code).toBe('PLAN_APPLIED');
    expect((await writes()).map((w) => w.method)).toEqual(['PATCH', 'PATCH']);
  });

  it('refuses a target a person edited after the plan (PLAN_STALE) with no write to it; the other is applied; 409', async () => {
    const { planId } = await makePlan();
    await emulator.control.addRule('kv-open', '81.2.69.160');
    await emulator.control.clearRequests();
    const res = await apply(planId);
    expect(res.status).toBe(409);
    const body = res.jsonBody as ApplyBody;
    expect(body.error!.code).toBe('PLAN_STALE');
    expect(body.vaults.map((v) => [v.outcome, v.reasons.map((r) => r.code)])).toEqual([['applied', []], ['refused', ['PLAN_STALE']]]);
    const written = await writes();
    expect(written).toHaveLength(1);
    expect(written[0]!.path).toContain('/vaults/kv-app');
    expect(await rulesOf('kv-open')).toEqual(['81.2.69.160/32']);
  });

  it('a plan whose only target was edited: PLAN_STALE and zero writes', async () => {
    const { planId } = await makePlan({ vault: vaultId('kv-open') });
    await emulator.control.addRule('kv-open', '81.2.69.160');
    await emulator.control.clearRequests();
    const res = await apply(planId);
    expect(res.status).toBe(409);
    expect((res.jsonBody as ApplyBody).vaults.map((v) => [v.outcome, v.reasons.map((r) => r.code)])).toEqual([['refused', ['PLAN_STALE']]]);
    expect(await writes()).toEqual([]);
  });

  it('refuses a plan made from another service-tags file (PLAN_SOURCE_MISMATCH), no write', async () => {
    const { planId } = await makePlan();
    configure(join(FIXTURES, 'ServiceTags_Public_20251006.json.gz'));
    await emulator.control.clearRequests();
    const res = await apply(planId);
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('PLAN_SOURCE_MISMATCH');
    expect((res.jsonBody as ApplyBody).vaults.map((v) => v.reasons.map((r) => r.code))).toEqual([['PLAN_SOURCE_MISMATCH'], ['PLAN_SOURCE_MISMATCH']]);
    expect(await writes()).toEqual([]);
  });

  it('refuses an expired plan (PLAN_EXPIRED, 410) before any request, by the default 24 h and by TAGWALL_PLAN_MAX_AGE', async () => {
    const { planId } = await makePlan();
    // Made 25 hours ago, as far as the stored plan says.
    const stored = await storedPlan(planId);
    await putBlob(`plans/${planId}.json`, { ...stored, plan: { ...stored.plan, createdAt: new Date(Date.now() - 25 * 3_600_000).toISOString() } });
    await emulator.control.clearRequests();
    const old = await apply(planId);
    expect(old.status).toBe(410);
    expect(errorOf(old).code).toBe('PLAN_EXPIRED');
    expect(await armRequests()).toEqual([]);
    expect((await storedPlan(planId)).applied).toBeUndefined();

    // A fresh plan, with a one-second max age set.
    const fresh = await makePlan();
    env.set({ TAGWALL_PLAN_MAX_AGE: '1s' });
    await new Promise((r) => setTimeout(r, 1_200));
    await emulator.control.clearRequests();
    const late = await apply(fresh.planId);
    expect(late.status).toBe(410);
    expect(errorOf(late)).toMatchObject({ code: 'PLAN_EXPIRED', message: expect.stringContaining('TAGWALL_PLAN_MAX_AGE') });
    expect(await armRequests()).toEqual([]);
  });

  it('a max age that is not a duration is a configuration error (500) before any request', async () => {
    const { planId } = await makePlan();
    env.set({ TAGWALL_PLAN_MAX_AGE: 'a day' });
    await emulator.control.clearRequests();
    const res = await apply(planId);
    expect(res.status).toBe(500);
    expect(errorOf(res)).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/TAGWALL_PLAN_MAX_AGE/) });
    expect((await getPlan()).status).toBe(500);
    expect(await armRequests()).toEqual([]);
  });

  it('refuses an unknown planId with 404 PLAN_NOT_FOUND: no request, nothing stored', async () => {
    await makePlan();
    const before = await blobNames();
    await emulator.control.clearRequests();
    const res = await apply('01890a5d-ac96-774b-bcce-b302099a8057');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('PLAN_NOT_FOUND');
    expect(await armRequests()).toEqual([]);
    expect(await blobNames()).toEqual(before);
  });

  it('a planId with path characters, or not a plan id, is 400 PLAN_ID_INVALID and never reads outside plans/', async () => {
    // A perfectly good plan, stored where a path could reach it if one were followed.
    const { planId } = await makePlan();
    const stored = await storedPlan(planId);
    await putBlob('decoy.json', stored);
    await putBlob('vaults/decoy.json', stored);
    const before = await blobNames();
    await emulator.control.clearRequests();
    for (const bad of ['../decoy', `${planId}/../../decoy`, '../vaults/decoy', 'plans/../decoy', `..%2F${planId}`, `${planId}.json`, `${planId}\\..`, planId.toUpperCase().replace(/-/g, ''), '', '01890a5d-ac96-474b-bcce-b302099a8057']) {
      const res = await apply(bad);
      expect([bad, res.status]).toEqual([bad, 400]);
      expect(errorOf(res).code).toBe('PLAN_ID_INVALID');
    }
    // Not a string at all: the body is wrong.
    expect((await apply(42)).status).toBe(400);
    expect(await armRequests()).toEqual([]);
    expect(await blobNames()).toEqual(before);
    expect((await storedPlan(planId)).applied).toBeUndefined();
  });

  it('a planId needs an explicit "apply": true and takes neither force nor vault', async () => {
    const { planId } = await makePlan();
    await emulator.control.clearRequests();
    for (const body of [{ planId }, { apply: false, planId }, { apply: true, planId, force: true }, { apply: true, planId, vault: vaultId('kv-app') }]) {
      const res = await post(body);
      expect([body, res.status]).toEqual([body, 400]);
      expect(errorOf(res).code).toBe('BAD_REQUEST');
    }
    expect(await armRequests()).toEqual([]);
    expect((await storedPlan(planId)).applied).toBeUndefined();
  });
});

describe('plan retention', () => {
  it('storing a plan deletes the stored plans older than the max age, and nothing else under plans/', async () => {
    const old = await makePlan();
    await putBlob('plans/README.txt', 'not a plan');
    env.set({ TAGWALL_PLAN_MAX_AGE: '1s' });
    await new Promise((r) => setTimeout(r, 1_200));
    const fresh = await makePlan();
    const names = await blobNames();
    expect(names).not.toContain(`plans/${old.planId}.json`);
    expect(names).toEqual(expect.arrayContaining([`plans/${fresh.planId}.json`, 'plans/README.txt']));
    expect(logs.some((l) => l.includes('1 expired plan'))).toBe(true);
  });
});
