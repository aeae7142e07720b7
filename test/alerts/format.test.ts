import { describe, expect, it } from 'vitest';
import { capLines, genericBody, slackBody, teamsBody, vaultDisplayName, webhookBody } from '../../src/alerts/format.js';
import { RESOLVED_ACTION } from '../../src/alerts/dedupe.js';
import type { Notification } from '../../src/alerts/types.js';
import { VAULT_A, driftAlert, simpleAlert } from './support.js';

const NOW = new Date('2026-03-01T08:00:00.000Z');
const rules = (n: number) => Array.from({ length: n }, (_, i) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`);
const bigDrift: Notification = { alert: driftAlert(VAULT_A, rules(45), 'critical'), state: 'firing' };
const small: Notification = { alert: driftAlert(VAULT_A, rules(3)), state: 'firing' };

interface Card {
  type: string;
  attachments: { contentType: string; contentUrl: null; content: { $schema: string; type: string; version: string; body: { type: string; text?: string; facts?: { title: string; value: string }[] }[] } }[];
}
interface Slack {
  text: string;
  blocks: { type: string; text?: { type: string; text: string }; fields?: { type: string; text: string }[]; elements?: { type: string; text: string }[] }[];
}

function cardText(card: Card): string {
  return card.attachments[0]!.content.body.map((b) => [b.text ?? '', ...(b.facts ?? []).map((f) => `${f.title}: ${f.value}`)].join('\n')).join('\n');
}
function slackText(msg: Slack): string {
  return msg.blocks.map((b) => [b.text?.text ?? '', ...(b.fields ?? []).map((f) => f.text), ...(b.elements ?? []).map((e) => e.text)].join('\n')).join('\n');
}

describe('content', () => {
  it('caps lists at 20 and says how many more there were', () => {
    expect(capLines(rules(20))).toEqual(rules(20));
    const capped = capLines(rules(45));
    expect(capped).toHaveLength(21);
    expect(capped.slice(0, 20)).toEqual(rules(20));
    expect(capped[20]).toBe('and 25 more');
    expect(capLines(['a', 'b', 'c'], 2)).toEqual(['a', 'b', 'and 1 more']);
  });

  it('names vaults by their name, and run-wide alerts as such', () => {
    expect(vaultDisplayName(VAULT_A)).toBe('kv-prod');
    expect(vaultDisplayName(`${VAULT_A}/`)).toBe('kv-prod');
    expect(vaultDisplayName('')).toMatch(/run-wide/);
    expect(vaultDisplayName('_run')).toMatch(/run-wide/);
  });

  it('names any other kind by its own name too', () => {
    expect(vaultDisplayName('/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/stprod')).toBe('stprod');
    expect(vaultDisplayName('/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityPerimeters/nsp/profiles/defaultProfile/')).toBe('defaultProfile');
  });
});

describe('generic format', () => {
  it('carries the vault, what changed (capped) and the action', () => {
    const body = genericBody(bigDrift, NOW);
    expect(body).toMatchObject({
      schema: 'tagwall.alert/v1',
      state: 'firing',
      vault: VAULT_A,
      vaultName: 'kv-prod',
      kind: 'drift',
      severity: 'critical',
      title: bigDrift.alert.title,
      action: 'The rules will be restored on this run.',
      fingerprint: bigDrift.alert.fingerprint,
      sentAt: NOW.toISOString(),
      rulesOmitted: 25,
    });
    expect(body.rules).toEqual(rules(20));
    expect(body.details).toHaveLength(21);
    expect(body.details[20]).toBe('and 25 more');
    // Survives a JSON round trip unchanged: no undefined, no functions, no dates.
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
  });

  it('has empty lists rather than missing ones when there are no rules', () => {
    const body = genericBody({ alert: simpleAlert('', 'service-tags-failed'), state: 'firing' }, NOW);
    expect(body.rules).toEqual([]);
    expect(body.rulesOmitted).toBe(0);
    expect(body.vaultName).toMatch(/run-wide/);
  });
});

describe('teams format', () => {
  it('is a Workflows message with one Adaptive Card 1.4', () => {
    const card = teamsBody(bigDrift, NOW) as Card;
    expect(card.type).toBe('message');
    expect(card.attachments).toHaveLength(1);
    const att = card.attachments[0]!;
    expect(att.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(att.content.type).toBe('AdaptiveCard');
    expect(att.content.version).toBe('1.4');
    expect(att.content.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
    expect(att.content.body.length).toBeGreaterThan(2);
    for (const el of att.content.body) expect(['TextBlock', 'FactSet']).toContain(el.type);
    const facts = att.content.body.find((b) => b.type === 'FactSet')!.facts!;
    expect(facts).toContainEqual({ title: 'Vault', value: 'kv-prod' });
    expect(facts).toContainEqual({ title: 'Severity', value: 'critical' });
    expect(facts).toContainEqual({ title: 'State', value: 'firing' });
  });

  it('lists the first 20 changes, "and N more", and what tagwall will do', () => {
    const text = cardText(teamsBody(bigDrift, NOW) as Card);
    expect(text).toContain('- removed 10.0.19.0/24');
    expect(text).not.toContain('10.0.20.0/24');
    expect(text).toContain('- and 25 more');
    expect(text).toContain('The rules will be restored on this run.');
    expect(text).toContain('CRITICAL');
  });

  it('says "Resolved" for a resolution', () => {
    const resolved: Notification = { alert: { ...small.alert, details: [], action: RESOLVED_ACTION }, state: 'resolved' };
    const card = teamsBody(resolved, NOW) as Card;
    expect(card.attachments[0]!.content.body[0]).toMatchObject({ type: 'TextBlock', color: 'Good' });
    expect(cardText(card)).toMatch(/^\[tagwall\] Resolved: /);
    // With no details, the rules are what changed.
    expect(cardText(card)).toContain('- 10.0.0.0/24');
  });
});

describe('a problem that cleared before any notification about it was delivered', () => {
  const told: Notification = {
    alert: { ...driftAlert(VAULT_A, rules(2), 'critical'), action: 'Nothing more: it was found at 2026-03-01T02:00:00.000Z and had cleared by 2026-03-01T08:00:00.000Z.' },
    state: 'resolved',
    firstSeen: '2026-03-01T02:00:00.000Z',
    clearedAt: '2026-03-01T08:00:00.000Z',
    unreported: true,
  };

  it('says how bad it was and that it is over, with both times, in every format', () => {
    expect(genericBody(told, NOW)).toMatchObject({ state: 'resolved', unreported: true, firstSeen: told.firstSeen, clearedAt: told.clearedAt, severity: 'critical', rules: rules(2) });
    const card = teamsBody(told, NOW) as Card;
    expect(cardText(card)).toMatch(/^\[tagwall\] CRITICAL \(already resolved\): 2 owned rule/);
    expect(cardText(card)).toContain('First seen: 2026-03-01T02:00:00.000Z\nCleared: 2026-03-01T08:00:00.000Z');
    expect(cardText(card)).toContain('- removed 10.0.0.0/24');
    const msg = slackBody(told, NOW) as Slack;
    expect(msg.text).toMatch(/^\[tagwall\] CRITICAL \(already resolved\): /);
    expect(slackText(msg)).toContain('*First seen*\n2026-03-01T02:00:00.000Z');
    expect(slackText(msg)).toContain('*Cleared*\n2026-03-01T08:00:00.000Z');
  });

  it('leaves the times out of notifications that do not have them', () => {
    expect(genericBody(small, NOW)).not.toHaveProperty('firstSeen');
    expect(genericBody(small, NOW)).not.toHaveProperty('clearedAt');
    expect(genericBody(small, NOW)).not.toHaveProperty('unreported');
  });
});

describe('slack format', () => {
  it('is an incoming-webhook message with fallback text and blocks', () => {
    const msg = slackBody(bigDrift, NOW) as Slack;
    expect(typeof msg.text).toBe('string');
    expect(msg.text).toContain(bigDrift.alert.title);
    expect(msg.blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    expect(msg.blocks[0]!.text!.text.length).toBeLessThanOrEqual(150);
    for (const b of msg.blocks) {
      expect(['header', 'section', 'context']).toContain(b.type);
      if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
    }
    const text = slackText(msg);
    expect(text).toContain('*Vault*\nkv-prod');
    expect(text).toContain('• removed 10.0.19.0/24');
    expect(text).not.toContain('10.0.20.0/24');
    expect(text).toContain('• and 25 more');
    expect(text).toContain('The rules will be restored on this run.');
  });

  it('escapes Slack markup and stays under block limits with huge details', () => {
    const alert = { ...small.alert, title: 'x'.repeat(400), details: Array.from({ length: 30 }, (_, i) => `<!channel> & ${'y'.repeat(300)} ${i}`) };
    const msg = slackBody({ alert, state: 'repeat' }, NOW) as Slack;
    const text = slackText(msg);
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt; &amp;');
    expect(msg.blocks[0]!.text!.text.length).toBeLessThanOrEqual(150);
    expect(msg.blocks[0]!.text!.text).toMatch(/^\[tagwall\] Still present: x+…$/);
    for (const b of msg.blocks) if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('webhookBody', () => {
  it('picks the shape by format', () => {
    expect(webhookBody('generic', small, NOW)).toEqual(genericBody(small, NOW));
    expect(webhookBody('teams', small, NOW)).toEqual(teamsBody(small, NOW));
    expect(webhookBody('slack', small, NOW)).toEqual(slackBody(small, NOW));
  });
});
