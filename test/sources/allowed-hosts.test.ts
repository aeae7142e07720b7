import { describe, expect, it } from 'vitest';
import { DEFAULT_ALLOWED_HOSTS, HostAllowList } from '../../src/sources/allowed-hosts.js';
import { isTagwallError } from '../../src/core/errors.js';

describe('the host allow-list', () => {
  const list = new HostAllowList([...DEFAULT_ALLOWED_HOSTS, 'mirror.example.net:8443', '[::1]:9000', 'https://Files.Example.org']);

  it.each([
    ['https://www.microsoft.com/en-us/download/details.aspx?id=56519', true],
    ['https://DOWNLOAD.microsoft.com/download/x.json', true],
    ['https://download.microsoft.com:443/download/x.json', true],
    ['https://download.microsoft.com:8443/download/x.json', false],
    ['https://evil.microsoft.com/x', false],
    ['https://download.microsoft.com.evil.net/x', false],
    ['https://mirror.example.net:8443/x', true],
    ['https://mirror.example.net/x', false],
    ['https://[::1]:9000/x', true],
    ['https://files.example.org/x', true],
    ['https://169.254.169.254/metadata', false],
  ])('%s → %s', (url, allowed) => {
    expect(list.allows(new URL(url))).toBe(allowed);
  });

  it('refuses plain http and unknown hosts with distinct codes', () => {
    expect(() => list.check(new URL('http://www.microsoft.com/'), 'page')).toThrow(expect.objectContaining({ code: 'DOWNLOAD_NOT_HTTPS' }));
    expect(() => list.check(new URL('https://example.com/'), 'page')).toThrow(expect.objectContaining({ code: 'DOWNLOAD_HOST_NOT_ALLOWED' }));
  });

  it('rejects entries that are not just a host and port', () => {
    for (const bad of ['', 'https://x.example/path', 'user@x.example', 'exa mple.com']) {
      try {
        new HostAllowList([bad]);
        throw new Error(`accepted "${bad}"`);
      } catch (e) {
        expect(isTagwallError(e, 'CONFIG_ALLOWED_HOST')).toBe(true);
      }
    }
  });

  it('describes itself with ports only where they are not 443', () => {
    expect(new HostAllowList(['a.example', 'b.example:8443']).describe()).toBe('a.example, b.example:8443');
  });
});
