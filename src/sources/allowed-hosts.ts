import { TagwallError } from '../core/errors.js';

/**
 * The hosts tagwall may contact for service-tag downloads. A download page or a redirect
 * could otherwise send the process anywhere, including cloud metadata endpoints, so every
 * URL is checked against this list before a connection is opened.
 *
 * Ports are part of an entry: `example.com` allows only the HTTPS default port 443, and
 * `example.com:8443` allows only port 8443. A mirror on an unusual port (and a test
 * server on a random one) must therefore be named with its port.
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = ['www.microsoft.com', 'download.microsoft.com'];

interface AllowedHost {
  readonly hostname: string;
  readonly port: string;
}

const HTTPS_DEFAULT_PORT = '443';

function parseEntry(entry: string): AllowedHost {
  const text = entry.trim();
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `https://${text}`);
  } catch {
    throw new TagwallError('CONFIG_ALLOWED_HOST', `"${entry}" is not a host name, host:port or URL that can be allow-listed`);
  }
  if (url.hostname === '' || url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '')) {
    throw new TagwallError('CONFIG_ALLOWED_HOST', `"${entry}" must name only a host and optionally a port`);
  }
  return { hostname: url.hostname.toLowerCase(), port: url.port === '' ? HTTPS_DEFAULT_PORT : url.port };
}

export class HostAllowList {
  private readonly entries: readonly AllowedHost[];

  constructor(entries: readonly string[]) {
    this.entries = entries.map(parseEntry);
  }

  allows(url: URL): boolean {
    const hostname = url.hostname.toLowerCase();
    const port = url.port === '' ? HTTPS_DEFAULT_PORT : url.port;
    return this.entries.some((e) => e.hostname === hostname && e.port === port);
  }

  /** For messages: `www.microsoft.com, localhost:8443`. */
  describe(): string {
    if (this.entries.length === 0) return '(none)';
    return this.entries.map((e) => (e.port === HTTPS_DEFAULT_PORT ? e.hostname : `${e.hostname}:${e.port}`)).join(', ');
  }

  /** Throws unless `url` is HTTPS on an allowed host; called before every connection. */
  check(url: URL, purpose: string): void {
    if (url.protocol !== 'https:') {
      throw new TagwallError('DOWNLOAD_NOT_HTTPS', `${purpose}: refused ${url.href}: only https:// URLs are fetched`);
    }
    if (!this.allows(url)) {
      throw new TagwallError('DOWNLOAD_HOST_NOT_ALLOWED', `${purpose}: refused ${url.href}: ${url.host} is not on the allowed host list (${this.describe()})`, {
        details: ['add the host (with its port when it is not 443) to serviceTags.allowedHosts or pass --allow-host to trust it'],
      });
    }
  }
}
