import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes, X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

/**
 * A throw-away certificate authority and a loopback server certificate signed by it.
 * The real Azure SDK refuses bearer tokens over plain HTTP, and tagwall never turns TLS
 * checks off, so local servers (the Key Vault emulator, test download servers) speak
 * HTTPS with this CA, and clients trust it the normal way: NODE_EXTRA_CA_CERTS or an
 * undici Agent's `connect.ca`.
 */
export interface LocalCertificates {
  /** PEM of the CA certificate clients should trust. */
  readonly caCert: string;
  /** PEM of the server certificate (for localhost, 127.0.0.1 and ::1) and its key. */
  readonly cert: string;
  readonly key: string;
}

export async function createLocalCertificates(): Promise<LocalCertificates> {
  const now = new Date(Date.now() - 60_000);
  const later = new Date(now.getTime() + 825 * 24 * 3600 * 1000);
  // A name of its own: two local CAs with one name make a client that trusts the older one
  // fail with a signature error instead of "unknown issuer".
  const ca = await selfsigned.generate([{ name: 'commonName', value: `tagwall local CA ${randomBytes(4).toString('hex')}` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: later,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: later,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { caCert: ca.cert, cert: server.cert, key: server.private };
}

/**
 * Keeps the certificates in `dir` so that a CA a user already trusts stays valid across
 * restarts; makes new ones when they are missing or about to expire.
 */
export async function loadOrCreateLocalCertificates(dir: string): Promise<LocalCertificates & { caPath: string }> {
  const caPath = join(dir, 'ca.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server-key.pem');
  try {
    const [caCert, cert, key] = await Promise.all([readFile(caPath, 'utf8'), readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    const expires = Date.parse(new X509Certificate(cert).validTo);
    if (expires - Date.now() > 7 * 24 * 3600 * 1000) return { caCert, cert, key, caPath };
  } catch {
    // missing or unreadable: make new ones below
  }
  const made = await createLocalCertificates();
  await mkdir(dir, { recursive: true });
  await writeFile(caPath, made.caCert);
  await writeFile(certPath, made.cert);
  await writeFile(keyPath, made.key, { mode: 0o600 });
  return { ...made, caPath };
}
