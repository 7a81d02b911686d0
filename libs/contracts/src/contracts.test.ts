import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  LoadStatus,
  MAX_PAYLOAD_BYTES,
  WorkResult,
  decodeWorkMessage,
  encodeWorkMessage,
  validate,
  validateLoadRequest,
  type WorkMessage,
} from './index.ts';

function fields(value: unknown): string[] {
  const result = validateLoadRequest(value);
  return result.ok ? [] : result.errors.map((e) => e.field);
}

describe('load request', () => {
  it.each([
    [0, false],
    [1, true],
    [1_000_000, true],
    [1_000_001, false],
  ])('count %i accepted: %s', (count, accepted) => {
    const result = validateLoadRequest({ count });
    expect(result.ok).toBe(accepted);
    if (!result.ok) expect(result.errors).toEqual([{ field: 'count', message: expect.stringMatching(/must be/) }]);
  });

  it('bounds the payload below the broker limit', () => {
    expect(validateLoadRequest({ count: 1, payloadBytes: MAX_PAYLOAD_BYTES }).ok).toBe(true);
    expect(fields({ count: 1, payloadBytes: MAX_PAYLOAD_BYTES + 1 })).toEqual(['payloadBytes']);
    expect(MAX_PAYLOAD_BYTES).toBeLessThan(256 * 1024);
  });

  it('rejects unknown fields by name, top level and nested', () => {
    expect(fields({ count: 1, cuont: 2 })).toEqual(['cuont']);
    expect(fields({ count: 1, work: { duration: 5 } })).toEqual(['work.duration']);
  });

  it('rejects wrong types and names the field', () => {
    expect(fields({ count: '10' })).toEqual(['count']);
    expect(fields({ count: 1.5 })).toEqual(['count']);
    expect(fields({ count: 1, rate: 0 })).toEqual(['rate']);
    expect(fields({ count: 1, work: { mode: 'gpu' } })).toEqual(['work.mode']);
    expect(fields({ count: 1, loadId: '../etc' })).toEqual(['loadId']);
    expect(fields([])).toEqual(['(body)']);
  });

  it('reports missing fields', () => {
    expect(fields({})).toEqual(['count']);
    expect(fields({ rate: 5 })).toEqual(['count']);
  });
});

describe('work message', () => {
  const message: WorkMessage = {
    version: 1,
    id: randomUUID(),
    loadId: 'load-1',
    seq: 0,
    createdAt: new Date().toISOString(),
    work: { durationMs: 10, mode: 'cpu', failureProbability: 0 },
  };

  it('round-trips through bytes', () => {
    const decoded = decodeWorkMessage(encodeWorkMessage(message));
    expect(decoded).toEqual({ ok: true, value: message });
  });

  it('turns garbage into errors, never a throw', () => {
    expect(decodeWorkMessage('{not json')).toEqual({ ok: false, errors: [{ field: '(body)', message: 'is not valid JSON' }] });
    const bad = decodeWorkMessage(JSON.stringify({ ...message, id: 'nope', extra: true }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.field).sort()).toEqual(['extra', 'id']);
    const missing = decodeWorkMessage(JSON.stringify({ version: 1 }));
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.errors.map((e) => e.field)).toContain('loadId');
  });

  it('rejects a filler over the payload limit', () => {
    const bad = decodeWorkMessage(JSON.stringify({ ...message, filler: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) }));
    expect(bad.ok).toBe(false);
  });

  it('rejects an unknown version', () => {
    expect(decodeWorkMessage(JSON.stringify({ ...message, version: 2 })).ok).toBe(false);
  });
});

describe('status and result', () => {
  it('validates a load status and a work result', () => {
    const now = new Date().toISOString();
    expect(validate(LoadStatus, { version: 1, loadId: 'a', state: 'running', sent: 5, total: 10, rate: 2.5, createdAt: now }).ok).toBe(
      true,
    );
    expect(validate(LoadStatus, { version: 1, loadId: 'a', state: 'sleeping', sent: 5, total: 10, rate: 0, createdAt: now }).ok).toBe(
      false,
    );
    const result = {
      version: 1,
      messageId: randomUUID(),
      loadId: 'a',
      seq: 3,
      worker: { kind: 'job', instance: 'pod-1' },
      deliveryAttempt: 1,
      enqueuedAt: now,
      startedAt: now,
      finishedAt: now,
      outcome: 'succeeded',
    };
    expect(validate(WorkResult, result).ok).toBe(true);
    expect(validate(WorkResult, { ...result, deliveryAttempt: 0 }).ok).toBe(false);
  });
});
