import { TagwallError } from '../../src/core/errors.js';

/** The TagwallError a call ends with; anything else (success included) fails the test. */
export async function failure(p: Promise<unknown>): Promise<TagwallError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TagwallError) return e;
    throw new Error(`expected a TagwallError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a TagwallError, but the call succeeded');
}
