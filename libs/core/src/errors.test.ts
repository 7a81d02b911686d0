import { describe, expect, it } from 'vitest';
import { errorFields, errorGuard, errorMessage, SurgeError, type ErrorCodeSpec } from './index.ts';

const Codes = { DOWN: { code: 'THING_DOWN', retryable: true } } as const satisfies Record<string, ErrorCodeSpec>;
class ThingError extends SurgeError {}
const isThingError = errorGuard<ThingError>(Codes);

describe('error catalogue guard', () => {
  it('accepts a branded error with a code of its catalogue, also from another copy of the class', () => {
    expect(isThingError(new ThingError('THING_DOWN', 'down', { retryable: true }))).toBe(true);
    // Another copy of the lib (a bundle) has another class but the same brand.
    class CopiedThingError extends SurgeError {}
    expect(isThingError(new CopiedThingError('THING_DOWN', 'down'))).toBe(true);
  });

  it("rejects another catalogue's code, and lookalikes without the brand", () => {
    expect(isThingError(new SurgeError('QUEUE_CLOSED', 'closed'))).toBe(false);
    expect(isThingError({ code: 'THING_DOWN', retryable: true, message: 'plain object' })).toBe(false);
    expect(isThingError(Object.assign(new Error('plain error'), { code: 'THING_DOWN', retryable: true }))).toBe(false);
    expect(isThingError(undefined)).toBe(false);
  });
});

describe('errorFields', () => {
  it('keeps message, code and retryable, and nothing else of the error', () => {
    const error = new SurgeError('THING_DOWN', 'down', { retryable: true, cause: new Error('secret=hunter2') });
    expect(errorFields(error)).toEqual({ message: 'down', code: 'THING_DOWN', retryable: true });
    expect(errorFields(new Error('plain'))).toEqual({ message: 'plain' });
    expect(errorFields('a string')).toEqual({ message: 'a string' });
    expect(errorMessage(error)).toBe('down');
  });
});
