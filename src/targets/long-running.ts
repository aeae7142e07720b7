import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import type { OperationPolling } from '../arm/client-options.js';

/**
 * Waiting for a write that Azure runs as a long-running operation (202 and a status URL to
 * poll). The SDK's poller has no deadline of its own: an operation that never ends would hold
 * the run forever, so the wait is bounded here, and how it ended becomes a code.
 */

export const DEFAULT_OPERATION_TIMEOUT_MS = 20 * 60_000;

/** The part of the SDKs' SimplePollerLike used here (core-lro 2.x and 3.x agree on it). */
export interface OperationPoller<T> {
  pollUntilDone(options?: { abortSignal?: AbortSignal }): Promise<T>;
}

/** The raw responses of the operation, seen through the SDK's `onResponse` option. */
export interface OperationWatch {
  readonly onResponse: (raw: { readonly status: number; readonly parsedBody?: unknown }) => void;
  /** The operation's status as its last status response gave it (`InProgress`, `Failed`, ...). */
  lastStatus(): string | undefined;
  /** Azure's `error` from the last response that carried one (a failed operation's status). */
  lastError(): { readonly code?: string; readonly message?: string } | undefined;
  /** Responses after the write's own: the status polls and the final read. */
  polls(): number;
}

export function watchOperation(): OperationWatch {
  let status: string | undefined;
  let error: { code?: string; message?: string } | undefined;
  let responses = 0;
  return {
    onResponse: (raw) => {
      responses += 1;
      const body = raw.parsedBody;
      if (typeof body !== 'object' || body === null) return;
      const b = body as { status?: unknown; error?: unknown };
      if (typeof b.status === 'string') status = b.status;
      if (typeof b.error === 'object' && b.error !== null) {
        const { code, message } = b.error as { code?: unknown; message?: unknown };
        error = { ...(typeof code === 'string' ? { code } : {}), ...(typeof message === 'string' ? { message } : {}) };
      }
    },
    lastStatus: () => status,
    lastError: () => error,
    polls: () => Math.max(0, responses - 1),
  };
}

/**
 * Starts the operation and polls it to the end within the timeout. A timeout is
 * TARGET_OPERATION_TIMEOUT and a failed operation TARGET_OPERATION_FAILED (with Azure's code),
 * whether the SDK saw the end on its first poll (inside `begin`) or later; anything else (an
 * HTTP error, on the write or a poll) is passed on for the kind's error mapper.
 */
export async function runOperation<T>(
  begin: () => Promise<OperationPoller<T>>,
  resource: ResourceRef,
  title: string,
  watch: OperationWatch,
  polling: OperationPolling | undefined,
): Promise<T> {
  const timeoutMs = polling?.timeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  timer.unref?.();
  // The SDKs check the signal between polls, not during a request: one hanging poll would hold
  // the wait past its bound, so the bound is raced too.
  const expired = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(new Error('the operation bound expired')), { once: true }));
  expired.catch(() => undefined);
  try {
    const work = begin().then((poller) => poller.pollUntilDone({ abortSignal: abort.signal }));
    // Given up on, the operation's own end is nobody's to handle.
    work.catch(() => undefined);
    return await Promise.race([work, expired]);
  } catch (e) {
    // A request Azure answered with an error (after the SDK's retries) says nothing of the
    // operation's outcome: it is the kind's mapper's, like any other failed request.
    if (typeof (e as { statusCode?: unknown }).statusCode === 'number') throw e;
    const status = (watch.lastStatus() ?? '').toLowerCase();
    const details = [`resource: ${resource.id}`, `status polls: ${watch.polls()}`];
    if (status === 'failed' || status === 'canceled' || status === 'cancelled') {
      const azure = watch.lastError();
      throw new TagwallError('TARGET_OPERATION_FAILED', `Azure's operation updating ${title} ${resource.name} ended ${status}${azure?.message === undefined ? '' : `: ${azure.message}`}`, {
        details,
        cause: e,
        values: { operationStatus: status, polls: watch.polls(), ...(azure?.code === undefined ? {} : { azureCode: azure.code }) },
      });
    }
    if (abort.signal.aborted) {
      // The operation goes on in Azure; the next run reads whatever it left.
      throw new TagwallError('TARGET_OPERATION_TIMEOUT', `the update of ${title} ${resource.name} did not finish within ${timeoutMs} ms; Azure may still complete it`, {
        transient: true,
        details,
        cause: e,
        values: { timeoutMs, polls: watch.polls() },
      });
    }
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
