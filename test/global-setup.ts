import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalCertificates, type LocalCertificates } from '../src/tls/local-ca.js';

/**
 * One local CA for the whole run, trusted the way users trust the emulator: through
 * NODE_EXTRA_CA_CERTS, which the forked test workers inherit. Tests that run code with no
 * TLS options of its own (the Functions handlers) reach the emulator through it.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'tagwall-test-tls-'));
  const certs = await createLocalCertificates();
  await writeFile(join(dir, 'ca.pem'), certs.caCert);
  await writeFile(join(dir, 'server.pem'), certs.cert);
  await writeFile(join(dir, 'server-key.pem'), certs.key);
  process.env.NODE_EXTRA_CA_CERTS = join(dir, 'ca.pem');
  process.env.TAGWALL_TEST_TLS_DIR = dir;
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}

/** The run's certificates, for servers that clients must trust without being told. */
export async function sharedTestCertificates(): Promise<LocalCertificates> {
  const dir = process.env.TAGWALL_TEST_TLS_DIR;
  if (dir === undefined) throw new Error('the global test setup did not run');
  const [caCert, cert, key] = await Promise.all(['ca.pem', 'server.pem', 'server-key.pem'].map((f) => readFile(join(dir, f), 'utf8')));
  return { caCert: caCert!, cert: cert!, key: key! };
}
