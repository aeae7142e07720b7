import { ArmFailure, isRecord } from '../http.js';
import { seedError, type ArmReply } from '../resources.js';

/**
 * The long-running operations the emulator's kinds run for a write (Cosmos DB, AKS, container
 * apps): how a seed makes one slow or failing, how it ends, and what its status URL answers.
 * Each kind keeps its own URLs and timing; these are the parts that are the same in all of them.
 */

/** A seed's `emulatorOperation`: how long an update runs, and whether it ends Failed. */
export interface OperationBehaviour {
  readonly durationMs: number;
  readonly fail?: { readonly code: string; readonly message: string };
}

export type OperationOutcome = { readonly status: 'Succeeded' } | { readonly status: 'Failed'; readonly error: { code: string; message: string } };

export function operationBehaviourOf(raw: unknown, defaultMs: number): OperationBehaviour {
  if (raw === undefined) return { durationMs: defaultMs };
  if (!isRecord(raw)) throw seedError('emulatorOperation must be an object');
  const durationMs = raw['durationMs'] ?? defaultMs;
  if (typeof durationMs !== 'number' || durationMs < 0) throw seedError('emulatorOperation.durationMs must be a non-negative number');
  const fail = raw['fail'];
  if (fail !== undefined && (!isRecord(fail) || typeof fail['code'] !== 'string' || typeof fail['message'] !== 'string')) {
    throw seedError('emulatorOperation.fail needs a code and a message');
  }
  return { durationMs, ...(fail === undefined ? {} : { fail: { code: fail['code'] as string, message: fail['message'] as string } }) };
}

/** How an operation with this behaviour ends. */
export function outcomeOf(behaviour: OperationBehaviour): OperationOutcome {
  const fail = behaviour.fail;
  return fail === undefined ? { status: 'Succeeded' } : { status: 'Failed', error: { ...fail } };
}

/** The status URL's answer: InProgress while it runs, then how it ended; 404 for an operation never started. */
export function operationStatus(base: Readonly<Record<string, string>>, running: boolean, outcome: OperationOutcome | undefined, opId: string): ArmReply {
  if (outcome === undefined && !running) throw new ArmFailure(404, 'NotFound', `Operation ${opId} was not found.`);
  if (running) return { status: 200, body: { ...base, status: 'InProgress' } };
  return { status: 200, body: outcome!.status === 'Succeeded' ? { ...base, status: 'Succeeded' } : { ...base, status: 'Failed', error: outcome!.error } };
}
