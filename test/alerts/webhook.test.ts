import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dispatchAlerts } from '../../src/alerts/dispatch.js';
import { postWebhook, resolveWebhookConfig, validateWebhookUrl, webhookSettings } from '../../src/alerts/webhook.js';
import { isTagwallError } from '../../src/core/errors.js';
import type { Alert } from '../../src/alerts/types.js';
import { RESOLVED_ACTION } from '../../src/alerts/dedupe.js';
import type { GenericAlertBody } from '../../src/alerts/format.js';
import { AlertStateRepository } from '../../src/state/records.js';
import { FolderStore } from '../../src/state/store.js';
import { VAULT_A, VAULT_B, driftAlert, folderAlertState, memoryLogger, simpleAlert, startReceiver, type Reply } from './support.js';

const NOW = new Date('2026-03-01T08:00:00.000Z');
let dir: string;
let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tagwall-alerts-'));
});
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function receive(reply?: (n: number) => Reply) {
  receiver = await startReceiver(reply);
  return receiver;
}

const threeAlerts: Alert[] = [driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.1.0/24']), simpleAlert(VAULT_B, 'firewall-disabled'), simpleAlert('', 'service-tags-stale', 'warning')];

describe('webhook delivery', () => {
  it('POSTs exactly one JSON request per notification, and none for a problem already sent', async () => {
    const r = await receive();
    const state = folderAlertState(dir);
    const logger = memoryLogger();
    const input = { alerts: threeAlerts, evaluatedScopes: [VAULT_A, VAULT_B, '_run'], now: NOW, repeatAfterHours: 24, state, logger, webhook: { url: r.url, format: 'generic' as const } };

    const first = await dispatchAlerts(input);
    expect(first.webhook).toEqual({ sent: 3, failed: 0, errors: [] });
    expect(r.requests).toHaveLength(3);
    for (const req of r.requests) {
      expect(req.method).toBe('POST');
      expect(req.path).toBe('/hooks/secret-token-123');
      expect(req.headers['content-type']).toMatch(/^application\/json/);
    }
    const bodies = r.requests.map((q) => JSON.parse(q.body) as { fingerprint: string; state: string; schema: string });
    expect(bodies.map((b) => b.fingerprint).sort()).toEqual(threeAlerts.map((a) => a.fingerprint).sort());
    expect(bodies.every((b) => b.state === 'firing' && b.schema === 'tagwall.alert/v1')).toBe(true);

    const second = await dispatchAlerts({ ...input, now: new Date(NOW.getTime() + 3_600_000) });
    expect(second.notifications).toEqual([]);
    expect(second.webhook).toEqual({ sent: 0, failed: 0, errors: [] });
    expect(r.requests).toHaveLength(3);
  });

  it('sends Teams cards and Slack messages in their own shapes', async () => {
    const r = await receive();
    for (const format of ['teams', 'slack'] as const) {
      await dispatchAlerts({ alerts: [threeAlerts[0]!], evaluatedScopes: [VAULT_A], now: NOW, repeatAfterHours: 24, state: folderAlertState(join(dir, format)), logger: memoryLogger(), webhook: { url: r.url, format } });
    }
    expect(r.requests).toHaveLength(2);
    const teams = JSON.parse(r.requests[0]!.body) as { type: string; attachments: { content: { type: string } }[] };
    expect(teams.type).toBe('message');
    expect(teams.attachments[0]!.content.type).toBe('AdaptiveCard');
    const slack = JSON.parse(r.requests[1]!.body) as { text: string; blocks: unknown[] };
    expect(slack.text).toContain(threeAlerts[0]!.title);
    expect(slack.blocks.length).toBeGreaterThan(0);
  });

  it('retries a 500 and succeeds on the 200 that follows', async () => {
    const r = await receive((n) => (n === 0 ? { status: 500, body: 'try later' } : { status: 200 }));
    const settings = webhookSettings({ url: r.url, format: 'generic', retryDelayMs: 10 });
    const outcome = await postWebhook(settings, { hello: 'world' });
    expect(outcome).toEqual({ ok: true, attempts: 2, transient: false, status: 200 });
    expect(r.requests).toHaveLength(2);
    expect(r.requests[0]!.body).toBe(r.requests[1]!.body);
    expect(JSON.parse(r.requests[1]!.body)).toEqual({ hello: 'world' });
  });

  it('retries a 429 no sooner than its Retry-After says', async () => {
    const r = await receive((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 202 }));
    const started = Date.now();
    const outcome = await postWebhook(webhookSettings({ url: r.url, format: 'generic', retryDelayMs: 0 }), {});
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(outcome.ok).toBe(true);
    expect(r.requests).toHaveLength(2);
  });

  it('reads Retry-After as every retry in tagwall does: "1.5" is not one (RFC 9110 delay-seconds are whole), so the backoff decides', async () => {
    const r = await receive((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '1.5' } } : { status: 200 }));
    const started = Date.now();
    const outcome = await postWebhook(webhookSettings({ url: r.url, format: 'generic', retryDelayMs: 50 }), {});
    expect(outcome).toEqual({ ok: true, attempts: 2, transient: false, status: 200 });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('counts a notification retried to success as sent', async () => {
    const r = await receive((n) => (n === 0 ? { status: 500 } : { status: 200 }));
    const result = await dispatchAlerts({ alerts: [threeAlerts[0]!], evaluatedScopes: [VAULT_A], now: NOW, repeatAfterHours: 24, state: folderAlertState(dir), logger: memoryLogger(), webhook: { url: r.url, format: 'generic', retryDelayMs: 5 } });
    expect(result.webhook).toEqual({ sent: 1, failed: 0, errors: [] });
    expect(r.requests).toHaveLength(2);
  });

  it('gives up after the configured number of attempts', async () => {
    const r = await receive(() => ({ status: 503, body: 'down for maintenance' }));
    const outcome = await postWebhook(webhookSettings({ url: r.url, format: 'generic', attempts: 4, retryDelayMs: 1 }), {});
    expect(r.requests).toHaveLength(4);
    expect(outcome).toMatchObject({ ok: false, attempts: 4, transient: true });
    expect(outcome.error).toContain('HTTP 503 down for maintenance');
  });

  it('does not retry a 4xx the receiver will keep refusing', async () => {
    const r = await receive(() => ({ status: 404, body: 'no such hook' }));
    const outcome = await postWebhook(webhookSettings({ url: r.url, format: 'generic', retryDelayMs: 1 }), {});
    expect(r.requests).toHaveLength(1);
    expect(outcome).toMatchObject({ ok: false, attempts: 1, transient: false });
  });

  it('times out on a receiver that never answers without failing the dispatch, in bounded time', async () => {
    const r = await receive(() => 'hang');
    const state = folderAlertState(dir);
    const logger = memoryLogger();
    const started = Date.now();
    const result = await dispatchAlerts({
      alerts: threeAlerts,
      evaluatedScopes: [VAULT_A, VAULT_B, '_run'],
      now: NOW,
      repeatAfterHours: 24,
      state,
      logger,
      webhook: { url: r.url, format: 'generic', timeoutMs: 200, attempts: 2, retryDelayMs: 10 },
    });
    const elapsed = Date.now() - started;
    // Two attempts at 200 ms for the first notification; the other two are not tried against a dead receiver.
    expect(elapsed).toBeLessThan(3_000);
    expect(r.requests).toHaveLength(2);
    expect(result.notifications).toHaveLength(3);
    expect(result.webhook.sent).toBe(0);
    expect(result.webhook.failed).toBe(3);
    expect(result.webhook.errors[0]).toContain('no answer within 200 ms');
    expect(result.webhook.errors.join('\n')).not.toContain('secret-token-123');
    // Every alert still reached the log, and the failure is a warning there too.
    expect(logger.entries.filter((e) => e.message.startsWith('tagwall.alert '))).toHaveLength(3);
    const warn = logger.entries.find((e) => e.level === 'warn' && e.message.startsWith('alert webhook'));
    expect(warn?.message).toContain('3 of 3 notification(s) not delivered');
    expect(warn?.message).not.toContain('secret-token');

    // Not delivered, so not remembered as sent: the next run, with the receiver back, sends them.
    await r.close();
    const back = await receive();
    const retry = await dispatchAlerts({
      alerts: threeAlerts,
      evaluatedScopes: [VAULT_A, VAULT_B, '_run'],
      now: new Date(NOW.getTime() + 900_000),
      repeatAfterHours: 24,
      state,
      logger,
      webhook: { url: back.url, format: 'generic' },
    });
    expect(retry.webhook).toEqual({ sent: 3, failed: 0, errors: [] });
    expect(back.requests).toHaveLength(3);
  });

  it('remembers alerts a receiver refused for good, so they are not re-sent every run', async () => {
    const r = await receive(() => ({ status: 400, body: 'bad card' }));
    const state = folderAlertState(dir);
    const input = { alerts: [threeAlerts[0]!], evaluatedScopes: [VAULT_A], now: NOW, repeatAfterHours: 24, state, logger: memoryLogger(), webhook: { url: r.url, format: 'teams' as const } };
    const first = await dispatchAlerts(input);
    expect(first.webhook.failed).toBe(1);
    expect(first.webhook.errors[0]).toContain('HTTP 400 bad card');
    const second = await dispatchAlerts({ ...input, now: new Date(NOW.getTime() + 900_000) });
    expect(second.notifications).toEqual([]);
    expect(r.requests).toHaveLength(1);
  });
});

describe('notifications that could not be delivered stay due', () => {
  const HOUR = 3_600_000;
  const at = (hours: number) => new Date(NOW.getTime() + hours * HOUR);
  const drift = driftAlert(VAULT_A, ['10.0.0.0/24', '10.0.1.0/24']);
  /** The receiver answers as `up(n)` says for the n-th request; a down receiver says 503. */
  let up: (n: number) => boolean = () => true;
  const start = () => receive((n) => (up(n) ? { status: 200 } : { status: 503, body: 'down' }));
  // Through the record schema, as a real run stores alert state.
  const repo = () => new AlertStateRepository(new FolderStore(dir));
  const dispatch = (url: string, alerts: Alert[], now: Date, logger = memoryLogger()) =>
    dispatchAlerts({ alerts, evaluatedScopes: [VAULT_A], now, repeatAfterHours: 24, state: repo(), logger, webhook: { url, format: 'generic', attempts: 1 } });
  const bodies = (r: { requests: { body: string }[] }) => r.requests.map((q) => JSON.parse(q.body) as GenericAlertBody);

  it('a drift alert not delivered on the run that repaired it goes out once, on the next run, as found and resolved', async () => {
    up = (n) => n >= 1;
    const r = await start();
    // The run that finds the drift and restores the rules: the receiver is down.
    const repairing = await dispatch(r.url, [drift], at(0));
    expect(repairing.webhook).toMatchObject({ sent: 0, failed: 1 });
    const pending = (await repo().load(VAULT_A))?.state.alerts;
    expect(pending).toEqual([expect.objectContaining({ fingerprint: drift.fingerprint, pending: 'firing', firstSeen: at(0).toISOString(), details: drift.details, rules: drift.rules })]);

    // The next run finds no drift: before this fix it had nothing to say, and the drift was never reported.
    const logger = memoryLogger();
    const next = await dispatch(r.url, [], at(6), logger);
    expect(next.notifications.map((n) => [n.state, n.unreported])).toEqual([['resolved', true]]);
    expect(logger.entries[0]).toMatchObject({ level: 'info', props: { event: 'tagwall.alert', state: 'resolved', unreported: true, firstSeen: at(0).toISOString(), clearedAt: at(6).toISOString() } });
    expect(next.webhook).toMatchObject({ sent: 1, failed: 0 });
    expect(r.requests).toHaveLength(2);
    const told = bodies(r)[1]!;
    expect(told).toMatchObject({
      state: 'resolved',
      unreported: true,
      kind: 'drift',
      severity: 'warning',
      title: drift.title,
      details: drift.details,
      rules: drift.rules,
      fingerprint: drift.fingerprint,
      firstSeen: at(0).toISOString(),
      clearedAt: at(6).toISOString(),
    });
    expect(told.action).toContain(`found at ${at(0).toISOString()} and had cleared by ${at(6).toISOString()}`);
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([]);

    // Then nothing more.
    expect((await dispatch(r.url, [], at(7))).notifications).toEqual([]);
    expect((await dispatch(r.url, [], at(40))).notifications).toEqual([]);
    expect(r.requests).toHaveLength(2);
  });

  it('keeps the time the problem was first found gone while the receiver stays down', async () => {
    up = (n) => n >= 2;
    const r = await start();
    await dispatch(r.url, [drift], at(0));
    expect((await dispatch(r.url, [], at(6))).webhook).toMatchObject({ sent: 0, failed: 1 });
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([expect.objectContaining({ pending: 'firing', clearedAt: at(6).toISOString() })]);
    const late = await dispatch(r.url, [], at(12));
    expect(late.webhook.sent).toBe(1);
    expect(bodies(r).map((b) => [b.state, b.unreported, b.firstSeen, b.clearedAt])).toEqual([
      ['firing', undefined, undefined, undefined],
      ['resolved', true, at(0).toISOString(), at(6).toISOString()],
      ['resolved', true, at(0).toISOString(), at(6).toISOString()],
    ]);
    expect((await dispatch(r.url, [], at(13))).notifications).toEqual([]);
    expect(r.requests).toHaveLength(3);
  });

  it('sends a never-delivered firing as firing while the problem lasts, then resolves it as usual', async () => {
    up = (n) => n >= 1;
    const r = await start();
    await dispatch(r.url, [drift], at(0));
    // Well inside the repeat interval, yet it was never delivered: it goes out now.
    const again = await dispatch(r.url, [drift], at(0.25));
    expect(again.notifications.map((n) => n.state)).toEqual(['firing']);
    expect(again.webhook.sent).toBe(1);
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([
      { fingerprint: drift.fingerprint, kind: 'drift', severity: 'warning', vault: VAULT_A, firstSeen: at(0).toISOString(), lastSent: at(0.25).toISOString(), summary: drift.title },
    ]);
    expect((await dispatch(r.url, [drift], at(1))).notifications).toEqual([]);
    const cleared = await dispatch(r.url, [], at(2));
    expect(cleared.notifications.map((n) => [n.state, n.unreported ?? false])).toEqual([['resolved', false]]);
    expect(bodies(r).map((b) => b.state)).toEqual(['firing', 'firing', 'resolved']);
  });

  it('retries a "resolved" that could not be delivered, with the time the problem was found gone', async () => {
    up = (n) => n !== 1;
    const r = await start();
    expect((await dispatch(r.url, [drift], at(0))).webhook.sent).toBe(1);
    const held = await dispatch(r.url, [], at(3));
    expect(held.webhook).toMatchObject({ sent: 0, failed: 1 });
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([expect.objectContaining({ fingerprint: drift.fingerprint, pending: 'resolved', clearedAt: at(3).toISOString() })]);
    const retried = await dispatch(r.url, [], at(4));
    expect(retried.notifications.map((n) => [n.state, n.unreported ?? false])).toEqual([['resolved', false]]);
    expect(retried.webhook.sent).toBe(1);
    expect(bodies(r).map((b) => [b.state, b.firstSeen, b.clearedAt])).toEqual([
      ['firing', undefined, undefined],
      ['resolved', at(0).toISOString(), at(3).toISOString()],
      ['resolved', at(0).toISOString(), at(3).toISOString()],
    ]);
    expect(bodies(r)[2]!.action).toBe(RESOLVED_ACTION);
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([]);
    expect((await dispatch(r.url, [], at(5))).notifications).toEqual([]);
    expect(r.requests).toHaveLength(3);
  });

  it('drops a pending "resolved" when the problem is back before it went out: the receiver last heard "firing"', async () => {
    up = (n) => n !== 1;
    const r = await start();
    await dispatch(r.url, [drift], at(0));
    await dispatch(r.url, [], at(3));
    expect((await dispatch(r.url, [drift], at(4))).notifications).toEqual([]);
    expect((await repo().load(VAULT_A))?.state.alerts).toEqual([
      { fingerprint: drift.fingerprint, kind: 'drift', severity: 'warning', vault: VAULT_A, firstSeen: at(0).toISOString(), lastSent: at(0).toISOString(), summary: drift.title },
    ]);
    expect(r.requests).toHaveLength(2);
  });
});

describe('webhook URLs', () => {
  it('refuses plain http to anything but loopback, with a clear error', () => {
    for (const url of ['http://example.com/hook', 'http://10.0.0.5/hook', 'http://127.0.0.2/hook']) {
      try {
        validateWebhookUrl(url);
        expect.unreachable(url);
      } catch (e) {
        expect(isTagwallError(e, 'ALERT_WEBHOOK_INVALID')).toBe(true);
        expect((e as Error).message).toMatch(/alerts\.webhook\.url must use https; plain http is allowed only to 127\.0\.0\.1, localhost or \[::1\]/);
      }
    }
    expect(() => validateWebhookUrl('ftp://example.com/hook')).toThrow(/must be an https URL/);
  });

  it('accepts https anywhere and http on loopback', () => {
    for (const url of ['https://hooks.slack.com/services/T/B/x', 'http://127.0.0.1:8080/h', 'http://localhost/h', 'http://[::1]:9/h']) {
      expect(validateWebhookUrl(url).href).toBe(new URL(url).href);
    }
  });

  it('refuses the README placeholder and other hosts that are not real, naming the setting and showing a valid form', () => {
    for (const url of [
      'https://...',
      'https://.../hooks/x',
      'https://host/hook',
      'https://-hooks.example.com/x',
      'https://hooks-.example.com/x',
      'https://hooks..example.com/x',
      'https://hooks_1.example.com/x',
      'https://1/x',
      'https://0x7f.1/x',
      'https://10.1/x',
      `https://${'a'.repeat(64)}.example.com/x`,
      'http://.../x',
    ]) {
      let thrown: unknown;
      try {
        validateWebhookUrl(url, 'TAGWALL_ALERT_WEBHOOK_URL');
      } catch (e) {
        thrown = e;
      }
      expect(isTagwallError(thrown, 'ALERT_WEBHOOK_INVALID'), url).toBe(true);
      expect((thrown as Error).message, url).toMatch(/^TAGWALL_ALERT_WEBHOOK_URL has no real host \(got ".*"\): it must be a host name .* or an IP address, as in https:\/\//);
    }
    expect(() => validateWebhookUrl('https://...')).toThrow(/^alerts\.webhook\.url has no real host \(got "\.\.\."\)/);
  });

  it('accepts real host names, dotted-quad and IPv6 addresses, and localhost', () => {
    for (const url of [
      'https://prod-12.westeurope.logic.azure.com:443/workflows/abc?sig=x',
      'https://hooks.slack.com./services/T/B/x',
      'https://B\u00fccher.example/hook',
      'https://a.b/x',
      `https://${'a'.repeat(63)}.example.com/x`,
      'https://203.0.113.7/hook',
      'https://[2001:db8::1]:8443/hook',
      'https://user:pass@hooks.example.com/x',
      'https://localhost:7071/api/hook',
    ]) {
      expect(validateWebhookUrl(url).href, url).toBe(new URL(url).href);
    }
  });

  it('never repeats a malformed URL, which may be a secret', () => {
    expect(() => validateWebhookUrl('hooks.slack.com/services/T/B/very-secret', 'TAGWALL_ALERT_WEBHOOK_URL')).toThrow(/^TAGWALL_ALERT_WEBHOOK_URL is not a valid URL \(value not shown/);
    try {
      validateWebhookUrl('hooks.slack.com/services/T/B/very-secret');
    } catch (e) {
      expect((e as Error).message).not.toContain('very-secret');
    }
  });

  it('explains an unresolved Key Vault reference', () => {
    expect(() => validateWebhookUrl('@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/hook/)', 'TAGWALL_ALERT_WEBHOOK_URL')).toThrow(/unresolved Key Vault reference/);
  });

  it('does not fail the dispatch for a refused URL: the alerts are logged and the error reported', async () => {
    const logger = memoryLogger();
    const result = await dispatchAlerts({ alerts: threeAlerts, evaluatedScopes: [VAULT_A], now: NOW, repeatAfterHours: 24, state: folderAlertState(dir), logger, webhook: { url: 'http://example.com/hook', format: 'generic' } });
    expect(result.notifications).toHaveLength(3);
    expect(result.webhook).toMatchObject({ sent: 0, failed: 3 });
    expect(result.webhook.errors).toHaveLength(1);
    expect(result.webhook.errors[0]).toMatch(/must use https/);
    expect(logger.entries.some((e) => e.level === 'warn' && /must use https/.test(e.message))).toBe(true);
  });

  it('takes the app setting over config, and nothing when neither is set', () => {
    expect(resolveWebhookConfig(undefined, {})).toBeUndefined();
    expect(resolveWebhookConfig({ format: 'slack' }, { TAGWALL_ALERT_WEBHOOK_URL: '  ' })).toBeUndefined();
    expect(resolveWebhookConfig({ url: 'https://a.example/h', format: 'slack' }, {})).toMatchObject({ url: 'https://a.example/h', format: 'slack' });
    expect(resolveWebhookConfig({ url: 'https://a.example/h' }, { TAGWALL_ALERT_WEBHOOK_URL: 'https://b.example/h', TAGWALL_ALERT_WEBHOOK_FORMAT: 'teams' })).toMatchObject({ url: 'https://b.example/h', format: 'teams' });
    expect(() => resolveWebhookConfig(undefined, { TAGWALL_ALERT_WEBHOOK_URL: 'http://b.example/h' })).toThrow(/^TAGWALL_ALERT_WEBHOOK_URL must use https/);
    expect(() => resolveWebhookConfig({ url: 'https://a.example/h', format: 'discord' }, {})).toThrow(/format must be one of generic, teams, slack/);
    expect(() => webhookSettings({ url: 'https://a.example/h', format: 'generic', attempts: 0 })).toThrow(/attempts/);
    expect(() => webhookSettings({ url: 'https://a.example/h', format: 'generic', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
