import { Agent as HttpsAgent } from 'node:https';
import * as tls from 'node:tls';
import type { TokenCredential } from '@azure/identity';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { TagwallError } from '../core/errors.js';
import { armPacingPolicy, type ArmPacer } from './pacing.js';

/** How tagwall reaches ARM; every SDK adapter takes this shape. */
export interface ArmClientOptions {
  /** ARM endpoint, e.g. https://management.azure.com or the emulator's URL. */
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** Defaults to the SDK's own. */
  readonly apiVersion?: string;
  /** The SDK's retry policy; unset fields keep its defaults (3 retries, 1 s, 64 s). */
  readonly retry?: { readonly maxRetries?: number; readonly retryDelayInMs?: number; readonly maxRetryDelayInMs?: number };
  /** The CA of a local emulator's certificate; when given, it is the only CA trusted. */
  readonly tls?: { readonly ca?: string };
  readonly userAgentPrefix?: string;
  /** Per attempt; the SDK itself has no timeout. Default 60 s. */
  readonly timeoutMs?: number;
  /** How writes that are long-running operations (Cosmos DB's) are waited for. */
  readonly operations?: OperationPolling;
  /** Paces every attempt per subscription under ARM's throttling; one per run, shared by every client. */
  readonly pacer?: ArmPacer;
}

export interface OperationPolling {
  /** Between status polls, unless Azure's Retry-After says otherwise. Defaults to the SDK's (2 s). */
  readonly pollIntervalMs?: number;
  /** How long to wait for the operation to end before giving up on it. Default 20 minutes. */
  readonly timeoutMs?: number;
}

/** What every SDK client gets from `ArmClientOptions`, whatever its generation names the scope. */
export interface ArmConnection {
  /** Without a trailing slash. */
  readonly endpoint: string;
  /**
   * The token scope, built here because the SDKs' own cloud setting would build it with a
   * double slash. The modular SDKs take it as `credentials.scopes`, the classic ones as
   * `credentialScopes`.
   */
  readonly scope: string;
  /** Spread into the client's options (both SDK generations share the core pipeline's names). */
  readonly pipeline: {
    readonly agent?: HttpsAgent;
    readonly retryOptions?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
    readonly userAgentOptions?: { userAgentPrefix: string };
    /** Both generations place a `perRetry` policy after signing, so it sees every attempt. */
    readonly additionalPolicies?: { policy: PipelinePolicy; position: 'perRetry' }[];
  };
  /** Passed to every operation. */
  readonly operationOptions: { readonly requestOptions: { readonly timeout: number } };
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * An agent that trusts exactly the given CA. It is for a local emulator, which is then the
 * only endpoint this adapter talks to. Adding Node's roots as well would let an older local
 * CA of the same name (say, one in NODE_EXTRA_CA_CERTS) shadow this one, and a `ca` list in
 * connection options is parsed again on every new connection; one secure context avoids both.
 */
function agentTrusting(ca: string): HttpsAgent {
  return new HttpsAgent({ keepAlive: true, secureContext: tls.createSecureContext({ ca }) });
}

export function checkArmEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TagwallError('ARM_ENDPOINT_INVALID', `${JSON.stringify(endpoint)} is not a URL; the ARM endpoint looks like https://management.azure.com`);
  }
  // The SDK's bearer-token policy refuses plain HTTP with a less helpful message.
  if (url.protocol !== 'https:') throw new TagwallError('ARM_ENDPOINT_INVALID', `the ARM endpoint must be https (bearer tokens are only sent over TLS), not ${endpoint}`);
  return endpoint.replace(/\/+$/, '');
}

/** Checks the endpoint (throws ARM_ENDPOINT_INVALID) and builds what each client shares. */
export function armConnection(options: ArmClientOptions): ArmConnection {
  const endpoint = checkArmEndpoint(options.endpoint);
  const agent = options.tls?.ca === undefined ? undefined : agentTrusting(options.tls.ca);
  return {
    endpoint,
    scope: `${endpoint}/.default`,
    pipeline: {
      ...(agent === undefined ? {} : { agent }),
      ...(options.retry === undefined ? {} : { retryOptions: { ...options.retry } }),
      ...(options.userAgentPrefix === undefined ? {} : { userAgentOptions: { userAgentPrefix: options.userAgentPrefix } }),
      ...(options.pacer === undefined ? {} : { additionalPolicies: [{ policy: armPacingPolicy(options.pacer), position: 'perRetry' as const }] }),
    },
    operationOptions: { requestOptions: { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS } },
  };
}

/**
 * One SDK client per subscription, made on first use: a client is bound to one subscription,
 * and resources in the same one share it (and its connections and token).
 */
export function perSubscription<T>(create: (subscriptionId: string) => T): (subscriptionId: string) => T {
  const clients = new Map<string, T>();
  return (subscriptionId) => {
    const key = subscriptionId.toLowerCase();
    let client = clients.get(key);
    if (client === undefined) {
      client = create(subscriptionId);
      clients.set(key, client);
    }
    return client;
  };
}

/** What a classic (core-client) ARM client's constructor takes: the same for every kind's SDK. */
export interface ClassicClientOptions {
  readonly endpoint: string;
  readonly credentialScopes: string[];
  readonly apiVersion?: string;
  readonly [pipeline: string]: unknown;
}

/** `apiVersion` only for an SDK that honours it (some fix theirs, and a policy rewrites it). */
export function classicClientOptions(connection: ArmConnection, apiVersion?: string): ClassicClientOptions {
  return { endpoint: connection.endpoint, credentialScopes: [connection.scope], ...(apiVersion === undefined ? {} : { apiVersion }), ...connection.pipeline };
}
