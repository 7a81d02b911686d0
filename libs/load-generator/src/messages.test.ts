import { describe, expect, it } from 'vitest';
import { DEFAULT_WORK, decodeWorkMessage } from '@surge/contracts';
import { MAX_BATCH_BYTES, batchSizeForPayload, buildBatch, planMessages } from './messages.ts';

describe('messages', () => {
  it('builds valid work messages from a counter, with the request work over the defaults', () => {
    const plan = planMessages('load-a', { count: 250, payloadBytes: 64, work: { durationMs: 20 } });
    const batch = buildBatch(plan, 200, 100, (m) => ({ traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`, seq: String(m.seq) }));
    expect(batch).toHaveLength(50); // clipped at count
    const decoded = batch.map((m) => {
      const result = decodeWorkMessage(m.body);
      if (!result.ok) throw new Error(JSON.stringify(result.errors));
      expect(result.value.id).toBe(m.id);
      expect(m.properties?.seq).toBe(String(result.value.seq));
      return result.value;
    });
    expect(decoded.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 200 + i));
    expect(decoded[0]?.work).toEqual({ ...DEFAULT_WORK, durationMs: 20 });
    expect(decoded[0]?.filler).toHaveLength(64);
    expect(new Set(decoded.map((m) => m.id)).size).toBe(50);
  });

  it('leaves out the filler and the properties when there are none', () => {
    const [message] = buildBatch(planMessages('b', { count: 1 }), 0, 1, () => undefined);
    expect(message?.properties).toBeUndefined();
    const decoded = decodeWorkMessage(message!.body);
    expect(decoded.ok && decoded.value.filler).toBe(undefined);
  });

  it('keeps a batch of large payloads to a few MiB', () => {
    expect(batchSizeForPayload(100, 0)).toBe(100);
    const n = batchSizeForPayload(100, 192 * 1024);
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n * 192 * 1024).toBeLessThanOrEqual(MAX_BATCH_BYTES);
  });
});
