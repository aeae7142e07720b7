import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

describe('npm start (tagwall demo)', () => {
  it('runs the whole loop on the built-in emulator with no Azure account and exits 0', async () => {
    // No Azure settings at all: whatever the developer's shell has must not leak in.
    const env = { AZURE_CLIENT_ID: '', AZURE_TENANT_ID: '', AZURE_CLIENT_SECRET: '', IDENTITY_ENDPOINT: '', IDENTITY_HEADER: '', TAGWALL_CONFIG: '' };
    const r = await runCli(['demo'], { env, timeoutMs: 120_000 });
    expect(r.stderr).not.toMatch(/^tagwall:/m);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^kv-tagwall-office\s+applied\s+\+\d+/m);
    expect(r.stdout).toMatch(/^kv-tagwall-open\s+applied\s+\+1000\s+-0\s+0\s+0\s+1000\/1000/m);
    expect(r.stdout).toMatch(/PATCH requests this run: 0/);
    expect(r.stdout).toMatch(/\[warning, firing\] 2 owned rules were removed from kv-tagwall-office outside tagwall/);
    expect(r.stdout).toMatch(/Drift check again: 0 new webhook POSTs/);
    expect(r.stdout).toMatch(/\[warning, resolved\] 2 owned rules were removed/);
  });
});
