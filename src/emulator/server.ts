import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TagwallError } from '../core/errors.js';
import { createLocalCertificates, loadOrCreateLocalCertificates, type LocalCertificates } from '../tls/local-ca.js';
import { handleArmRequest } from './arm.js';
import { connectEmulatorControl, type EmulatorControl } from './control-client.js';
import { handleControlRequest } from './control.js';
import { sendJson } from './http.js';
import { GRAPH_PATH, handleGraphRequest } from './graph.js';
import { handleIdentityRequest, IDENTITY_PATH } from './identity.js';
import { CONTROL_PREFIX, type EmulatorSeed } from './model.js';
import { applySeed, createEmulatorState, type EmulatorState } from './state.js';
import { AZURE_GRAPH_QUOTA, type GraphQuotaSettings } from './graph-quota.js';
import { AZURE_THROTTLE, type ThrottleSettings } from './throttle.js';

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Loopback only: the control API has no authentication. */
  readonly host?: '127.0.0.1';
  readonly seed?: EmulatorSeed;
  /** Use these instead of making a CA; overrides `stateDir`. */
  readonly certificates?: LocalCertificates;
  /** Keep the CA here, so a CA the user already trusts stays valid across restarts. */
  readonly stateDir?: string;
  readonly latencyMs?: number;
  /** Old-API behaviour for every vault. */
  readonly oldApi?: boolean;
  /** Port of the plain-HTTP identity endpoint; 0 (the default) picks a free port. */
  readonly identityPort?: number;
  /** Resource Graph shows each resource as it was this long ago (default 0). */
  readonly graphLagMs?: number;
  /** Resource Graph's per-principal quota (default 15 queries per 5 s, as Azure's). */
  readonly graphQuota?: GraphQuotaSettings;
  /** ARM's per-subscription token buckets (default Azure's figures); false: no throttling. */
  readonly throttle?: ThrottleSettings | false;
}

export interface Emulator {
  /** The ARM endpoint, e.g. https://127.0.0.1:50123 (no trailing slash). */
  readonly url: string;
  /** PEM of the CA that signed the server certificate. */
  readonly caCert: string;
  /** Where the CA is on disk, when `stateDir` was given. */
  readonly caPath?: string;
  /** Values for IDENTITY_ENDPOINT and IDENTITY_HEADER. */
  readonly identityEndpoint: string;
  readonly identityHeader: string;
  readonly control: EmulatorControl;
  close(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets from SDK clients would otherwise hold close() open.
    server.closeAllConnections();
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, state: EmulatorState) => unknown;

function serve(state: EmulatorState, pick: (url: URL) => Handler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    // Prefixing (rather than resolving against a base) keeps a path like //x from becoming a host.
    const url = new URL(`https://emulator.invalid${req.url ?? '/'}`);
    Promise.resolve()
      .then(() => pick(url)(req, res, url, state))
      .catch((e: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'InternalServerError', message: (e as Error).message } });
      });
  };
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  if (host !== '127.0.0.1') throw new TagwallError('EMULATOR_HOST', `the emulator listens on 127.0.0.1 only, not ${String(host)}`);
  const certs: LocalCertificates & { caPath?: string } =
    options.certificates ?? (options.stateDir === undefined ? await createLocalCertificates() : await loadOrCreateLocalCertificates(options.stateDir));
  const identityHeader = randomBytes(24).toString('base64url');
  const state = createEmulatorState(
    {
      latencyMs: options.latencyMs ?? 0,
      oldApi: options.oldApi ?? false,
      graphLagMs: options.graphLagMs ?? 0,
      graphQuota: options.graphQuota ?? AZURE_GRAPH_QUOTA,
      throttle: options.throttle ?? AZURE_THROTTLE,
    },
    identityHeader,
  );
  if (options.seed !== undefined) applySeed(state, options.seed, { replace: false, oldApi: state.settings.oldApi });

  const arm = createHttpsServer(
    { cert: certs.cert, key: certs.key },
    serve(state, (url) => (url.pathname.startsWith(CONTROL_PREFIX) ? handleControlRequest : GRAPH_PATH.test(url.pathname) ? handleGraphRequest : handleArmRequest)),
  );
  // App Service's identity endpoint is plain HTTP on the machine itself, and the
  // credential expects exactly that; the bearer token it hands out only ever travels over HTTPS.
  const identity = createHttpServer(serve(state, () => handleIdentityRequest));
  let armPort: number;
  let identityPort: number;
  try {
    armPort = await listen(arm, options.port ?? 0, host);
    identityPort = await listen(identity, options.identityPort ?? 0, host);
  } catch (e) {
    await Promise.all([closeServer(arm), closeServer(identity)]);
    const err = e as NodeJS.ErrnoException;
    throw new TagwallError('EMULATOR_LISTEN_FAILED', `the Key Vault emulator could not listen on ${host}: ${err.message}`, { cause: e, transient: err.code === 'EADDRINUSE' });
  }
  const url = `https://${host}:${armPort}`;
  const control = connectEmulatorControl(url, certs.caCert);
  let closing: Promise<void> | undefined;
  return {
    url,
    caCert: certs.caCert,
    ...(certs.caPath === undefined ? {} : { caPath: certs.caPath }),
    identityEndpoint: `http://${host}:${identityPort}${IDENTITY_PATH}`,
    identityHeader,
    control,
    close: () => (closing ??= Promise.all([control.close(), closeServer(arm), closeServer(identity)]).then(() => undefined)),
  };
}
