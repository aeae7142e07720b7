import type { NetworkManagementClient } from '@azure/arm-network';
import { classicClientOptions, type ArmClientOptions, type ArmConnection } from '../arm/client-options.js';

/**
 * `@azure/arm-network` clients for everything tagwall reads or writes under a Network Security
 * Perimeter. The SDK is large, so it is loaded on the first client, never at start-up. It has
 * no api-version option (36.0.0 always sends 2025-05-01), so another version, when asked for,
 * is set on each request by a pipeline policy.
 */

type NetworkSdk = typeof import('@azure/arm-network');

/** Sets the api-version in place, keeping the rest of the URL (a nextLink's $skipToken) exactly as it was. */
export function withApiVersion(url: string, apiVersion: string): string {
  const value = `api-version=${encodeURIComponent(apiVersion)}`;
  const existing = /([?&])api-version=[^&#]*/;
  return existing.test(url) ? url.replace(existing, `$1${value}`) : `${url}${url.includes('?') ? '&' : '?'}${value}`;
}

/** A factory of clients, one per call: a client is bound to one subscription. */
export function networkClients(options: ArmClientOptions, connection: ArmConnection): (subscriptionId: string) => Promise<NetworkManagementClient> {
  let sdk: Promise<NetworkSdk> | undefined;
  return async (subscriptionId) => {
    const { NetworkManagementClient } = await (sdk ??= import('@azure/arm-network'));
    const client = new NetworkManagementClient(options.credential, subscriptionId, classicClientOptions(connection));
    const apiVersion = options.apiVersion;
    if (apiVersion !== undefined) {
      client.pipeline.addPolicy({
        name: 'tagwallNetworkApiVersion',
        sendRequest: (request, next) => {
          request.url = withApiVersion(request.url, apiVersion);
          return next(request);
        },
      });
    }
    return client;
  };
}
