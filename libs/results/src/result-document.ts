import { formatFieldErrors, validate, WorkResult } from '@surge/contracts';
import { ResultError } from './errors.ts';
import { isLoadId, isMessageId } from './names.ts';

/**
 * Refuses a result whose ids cannot name a stored object: they become the path, so a bad one must
 * never reach a store (`../x` would escape the folder). The rest of the document is typed and was
 * built from a validated message; checking the whole schema again on every write (three date-time
 * formats) was a measurable share of a zero-work message. Reads still check the whole schema.
 */
export function checkResult(result: WorkResult): void {
  const bad = [!isLoadId(String(result.loadId)) && 'loadId', !isMessageId(String(result.messageId)) && 'messageId'].filter(Boolean);
  if (bad.length > 0)
    throw new ResultError(
      'INVALID_RESULT',
      `result ${bad.join(' and ')} cannot name a stored result (loadId: letters, digits, '.', '_', '-', at most 64; messageId: a UUID)`,
    );
}

export function parseStoredResult(text: string, name: string): WorkResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ResultError('CORRUPT', `stored result ${name} is not JSON`, { cause });
  }
  const checked = validate(WorkResult, value);
  if (!checked.ok)
    throw new ResultError('CORRUPT', `stored result ${name} does not match the WorkResult schema: ${formatFieldErrors(checked.errors)}`);
  return checked.value;
}
