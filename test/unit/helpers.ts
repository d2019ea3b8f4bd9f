// Shared by the unit tests: the reason code a call fails with.
import { CheckFailure, type FailureReason } from '../../src/errors.js';

/** The CheckFailure reason `run` throws, or 'no failure'; anything else thrown is rethrown. */
export function failureOf(run: () => unknown): FailureReason | 'no failure' {
  try {
    run();
  } catch (error) {
    if (error instanceof CheckFailure) return error.reason;
    throw error;
  }
  return 'no failure';
}
