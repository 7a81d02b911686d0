import { formatFieldErrors, validate, WorkResult } from '@surge/contracts';
import { ResultError } from './errors.ts';

/** Refuses a result that breaks the contract: its ids name the file, so a bad one must never reach a store. */
export function checkResult(result: WorkResult): void {
  const checked = validate(WorkResult, result);
  if (!checked.ok) throw new ResultError('INVALID_RESULT', `result does not match the WorkResult schema: ${formatFieldErrors(checked.errors)}`);
}

export function parseStoredResult(text: string, name: string): WorkResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ResultError('CORRUPT', `stored result ${name} is not JSON`, { cause });
  }
  const checked = validate(WorkResult, value);
  if (!checked.ok) throw new ResultError('CORRUPT', `stored result ${name} does not match the WorkResult schema: ${formatFieldErrors(checked.errors)}`);
  return checked.value;
}
