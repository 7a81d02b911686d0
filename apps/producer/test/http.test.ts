/** The HTTP contract through `inject`, over a real embedded queue: bad input, auth, idempotency, limits, probes. */
import { statfs } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueClient } from '@surge/queue-adapters';
import { QueueError } from '@surge/queue-adapters';
import type { ProducerApp } from '../src/app.ts';
import { TOKEN, auth, embeddedConfig, makeApp, openQueue, postLoad, statusOf, tempDir, waitForEnd, waitUntil } from './support.ts';

const temp = tempDir('surge-producer-http-');
const queues: QueueClient[] = [];
const apps: ProducerApp[] = [];

async function freshApp(
  overrides: Parameters<typeof makeApp>[1] = {},
): Promise<ProducerApp & { queue: QueueClient; lines: Record<string, unknown>[] }> {
  const queue = await openQueue(embeddedConfig(temp.dir));
  queues.push(queue);
  const app = await makeApp(queue, overrides);
  apps.push(app);
  return Object.assign(app, { queue });
}

afterAll(async () => {
  for (const app of apps) await app.stop(1_000);
  await Promise.all(queues.map((q) => q.close()));
  temp.remove();
});

interface BadRequest {
  name: string;
  method?: 'POST' | 'GET' | 'DELETE' | 'PUT';
  url?: string;
  headers?: Record<string, string>;
  payload?: string;
  status: number;
  /** The field the 400 body must name. */
  field?: string;
  error?: string;
}

const json = { ...auth, 'content-type': 'application/json' };
const body = (value: unknown): string => JSON.stringify(value);

const badRequests: BadRequest[] = [
  { name: 'count missing', payload: body({ rate: 5 }), status: 400, field: 'count' },
  { name: 'count zero', payload: body({ count: 0 }), status: 400, field: 'count' },
  { name: 'count over 1,000,000', payload: body({ count: 1_000_001 }), status: 400, field: 'count' },
  { name: 'count as a string', payload: body({ count: '10' }), status: 400, field: 'count' },
  { name: 'count fractional', payload: body({ count: 1.5 }), status: 400, field: 'count' },
  { name: 'count null', payload: body({ count: null }), status: 400, field: 'count' },
  { name: 'rate zero', payload: body({ count: 1, rate: 0 }), status: 400, field: 'rate' },
  { name: 'rate negative', payload: body({ count: 1, rate: -5 }), status: 400, field: 'rate' },
  // One message in ~29 days: past what a timer can wait (2^31-1 ms); the floor is one per 100 s.
  { name: 'rate below the floor (4e-7 msg/s)', payload: body({ count: 2, rate: 4e-7 }), status: 400, field: 'rate' },
  { name: 'rate just below the floor', payload: body({ count: 2, rate: 0.0099 }), status: 400, field: 'rate' },
  { name: 'rate as a word', payload: body({ count: 1, rate: 'fast' }), status: 400, field: 'rate' },
  { name: 'payload over the broker limit', payload: body({ count: 1, payloadBytes: 10_000_000 }), status: 400, field: 'payloadBytes' },
  { name: 'payload negative', payload: body({ count: 1, payloadBytes: -1 }), status: 400, field: 'payloadBytes' },
  { name: 'unknown top-level field (typo)', payload: body({ count: 1, cuont: 2 }), status: 400, field: 'cuont' },
  { name: 'unknown work field', payload: body({ count: 1, work: { duration: 5 } }), status: 400, field: 'work.duration' },
  { name: 'work mode not allowed', payload: body({ count: 1, work: { mode: 'gpu' } }), status: 400, field: 'work.mode' },
  { name: 'work duration over the max', payload: body({ count: 1, work: { durationMs: 10 ** 9 } }), status: 400, field: 'work.durationMs' },
  {
    name: 'failure probability over 1',
    payload: body({ count: 1, work: { failureProbability: 2 } }),
    status: 400,
    field: 'work.failureProbability',
  },
  { name: 'work not an object', payload: body({ count: 1, work: 5 }), status: 400, field: 'work' },
  { name: 'load id with a path', payload: body({ count: 1, loadId: '../etc' }), status: 400, field: 'loadId' },
  { name: 'load id too long', payload: body({ count: 1, loadId: 'a'.repeat(65) }), status: 400, field: 'loadId' },
  { name: 'unknown contract version', payload: body({ count: 1, version: 2 }), status: 400, field: 'version' },
  { name: 'body is an array', payload: '[]', status: 400, field: '(body)' },
  { name: 'body is null', payload: 'null', status: 400, field: '(body)' },
  { name: 'body is not JSON', payload: '{"count":', status: 400, field: '(body)' },
  { name: 'empty JSON body', payload: '', status: 400, field: '(body)' },
  { name: 'prototype poisoning', payload: '{"count":1,"__proto__":{"admin":true}}', status: 400, field: '(body)' },
  {
    name: 'text/plain body',
    headers: { ...auth, 'content-type': 'text/plain' },
    payload: '{"count":1}',
    status: 415,
    error: 'unsupported_media_type',
  },
  {
    name: 'form body',
    headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'count=1',
    status: 415,
    error: 'unsupported_media_type',
  },
  { name: 'body without a content type', headers: { ...auth }, payload: '{"count":1}', status: 415, error: 'unsupported_media_type' },
  {
    name: 'body over the limit',
    payload: body({ count: 1, loadId: 'x', pad: 'y'.repeat(70_000) }),
    status: 413,
    error: 'payload_too_large',
  },
  { name: 'status of a malformed id', method: 'GET', url: '/load/bad%20id!', headers: auth, status: 400, field: 'id' },
  { name: 'status of an unknown load', method: 'GET', url: '/load/no-such-load', headers: auth, status: 404, error: 'not_found' },
  { name: 'cancel of an unknown load', method: 'DELETE', url: '/load/no-such-load', headers: auth, status: 404, error: 'not_found' },
  { name: 'unknown method on /load', method: 'PUT', url: '/load', payload: body({ count: 1 }), status: 404, error: 'not_found' },
];

describe('bad input', () => {
  let app: Awaited<ReturnType<typeof freshApp>>;
  beforeAll(async () => {
    app = await freshApp();
  });

  it('has a table of at least 20 bad requests', () => {
    expect(badRequests.length).toBeGreaterThanOrEqual(20);
  });

  it.each(badRequests)('$name → $status', async (bad) => {
    const response = await app.http.inject({
      method: bad.method ?? 'POST',
      url: bad.url ?? '/load',
      headers: bad.headers ?? json,
      payload: bad.payload,
    });
    expect(response.statusCode).toBe(bad.status);
    const answer = response.json() as { error: string; errors?: { field: string; message: string }[] };
    if (bad.field !== undefined) {
      expect(answer.error).toBe('invalid_request');
      expect(answer.errors?.map((e) => e.field)).toContain(bad.field);
      for (const e of answer.errors ?? []) expect(e.message.length).toBeGreaterThan(0);
    }
    if (bad.error !== undefined) expect(answer.error).toBe(bad.error);
    // The server keeps serving after every mistake.
    expect((await app.http.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
  });

  it('started no load for any of them, and a good request still works', async () => {
    expect(app.loads.list()).toEqual([]);
    const { loadId, statusUrl } = await postLoad(app, { count: 25, work: { durationMs: 1 } });
    expect(statusUrl).toBe(`/load/${loadId}`);
    expect(await waitForEnd(app, loadId)).toMatchObject({ state: 'completed', sent: 25, total: 25 });
    expect((await app.queue.depth()).ready).toBe(25);
  });
});

describe('auth', () => {
  it('requires the bearer token on every load route, reads included; probes and metrics stay open', async () => {
    const app = await freshApp();
    const post = (headers: Record<string, string>) =>
      app.http.inject({
        method: 'POST',
        url: '/load',
        headers: { 'content-type': 'application/json', ...headers },
        payload: body({ count: 1 }),
      });
    const wrong: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong-token-0123456789' },
      { authorization: `Bearer ${TOKEN}x` },
      { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
    ];
    for (const headers of wrong) {
      const response = await post(headers);
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(response.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
    }
    // Auth is checked before the body: an unauthenticated client learns nothing about validation.
    expect(
      (await app.http.inject({ method: 'POST', url: '/load', headers: { 'content-type': 'application/json' }, payload: '{bad' }))
        .statusCode,
    ).toBe(401);
    expect(app.loads.list()).toEqual([]);

    const accepted = await post({ authorization: `Bearer ${TOKEN}` });
    expect(accepted.statusCode).toBe(202);
    const { loadId } = accepted.json() as { loadId: string };
    expect(accepted.headers.location).toBe(`/load/${loadId}`);
    // Reads of loads need the token as well.
    for (const url of [`/load/${loadId}`, '/loads']) {
      for (const headers of wrong) {
        const read = await app.http.inject({ method: 'GET', url, headers });
        expect(read.statusCode).toBe(401);
        expect(read.json()).toEqual({ error: 'unauthorized', message: expect.any(String) });
      }
    }
    expect((await app.http.inject({ method: 'GET', url: `/load/${loadId}`, headers: auth })).statusCode).toBe(200);
    const list = await app.http.inject({ method: 'GET', url: '/loads', headers: auth });
    expect(list.statusCode).toBe(200);
    for (const open of ['/livez', '/metrics']) expect((await app.http.inject({ method: 'GET', url: open })).statusCode).toBe(200);
    expect([200, 503]).toContain((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode);
    expect((list.json() as { loads: { loadId: string; total: number }[] }).loads).toEqual([expect.objectContaining({ loadId, total: 1 })]);
    expect((await app.http.inject({ method: 'DELETE', url: `/load/${loadId}` })).statusCode).toBe(401);
  });

  it('accepts requests without a token when auth is disabled', async () => {
    const app = await freshApp({ token: undefined });
    const response = await app.http.inject({ method: 'POST', url: '/load', payload: { count: 3 } });
    expect(response.statusCode).toBe(202);
  });
});

describe('idempotency, limits and cancel', () => {
  it('returns the same load for the same body and 409 for another body under the same id', async () => {
    const app = await freshApp();
    const request = { loadId: 'client-run-7', count: 50, rate: 1_000, work: { durationMs: 10, mode: 'cpu' } };
    const first = await postLoad(app, request);
    const again = await postLoad(app, { work: { mode: 'cpu', durationMs: 10 }, rate: 1_000, count: 50, loadId: 'client-run-7' });
    expect(first).toEqual({ loadId: 'client-run-7', statusUrl: '/load/client-run-7' });
    expect(again).toEqual(first);
    const conflict = await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { ...request, count: 51 } });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toMatchObject({ error: 'conflict' });
    await waitForEnd(app, 'client-run-7');
    // Retrying after the load ended never sends it again.
    expect(await postLoad(app, request)).toEqual(first);
    expect((await app.queue.depth()).ready).toBe(50);
    expect(app.loads.list()).toHaveLength(1);
  });

  it('answers 429 over the concurrency limit, and DELETE stops a load within one batch', async () => {
    const app = await freshApp({ maxConcurrentLoads: 1 });
    const { loadId } = await postLoad(app, { count: 100_000, rate: 300 });
    const refused = await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { count: 1 } });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect(refused.json()).toMatchObject({ error: 'too_many_loads' });

    await waitUntil(async () => (await statusOf(app, loadId)).sent >= 60, 'some messages sent');
    const cancelled = await app.http.inject({ method: 'DELETE', url: `/load/${loadId}`, headers: auth });
    expect(cancelled.statusCode).toBe(202);
    const atCancel = (cancelled.json() as { sent: number }).sent;
    const final = await waitForEnd(app, loadId);
    expect(final.state).toBe('cancelled');
    expect(final.sent - atCancel).toBeLessThanOrEqual(30); // 300 msg/s → batches of 30
    expect((await app.queue.depth()).ready).toBe(final.sent);
    // Cancelling an ended load is harmless.
    expect((await app.http.inject({ method: 'DELETE', url: `/load/${loadId}`, headers: auth })).statusCode).toBe(200);
    expect((await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { count: 1 } })).statusCode).toBe(202);
  });
});

describe('load size', () => {
  const bigPayload = 196_608;

  it('refuses a load over the per-load byte budget with 400 naming the limit, and starts nothing', async () => {
    const app = await freshApp({ maxLoadBytes: 2 * 1024 ** 3 });
    // ~197 GB: accepted before, and the embedded queue grew until the disk was full.
    const refused = await app.http.inject({
      method: 'POST',
      url: '/load',
      headers: auth,
      payload: { count: 1_000_000, payloadBytes: bigPayload },
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({ error: 'load_too_large', message: expect.stringContaining('PRODUCER_MAX_LOAD_BYTES') });
    expect(app.loads.list()).toEqual([]);
    expect((await app.queue.depth()).ready).toBe(0);
    expect(
      (await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { count: 10, payloadBytes: bigPayload } })).statusCode,
    ).toBe(202);
  });

  it("refuses a load the embedded queue's disk cannot hold, counting what running loads may still write", async () => {
    const { bavail, bsize } = await statfs(temp.dir);
    const free = bavail * bsize;
    const gib = 1024 ** 3;
    // Leave 1 GiB of room above the reserve: enough for one ~0.6 GB load, not for two.
    const app = await freshApp({
      maxLoadBytes: Number.MAX_SAFE_INTEGER,
      minFreeBytes: Math.max(0, free - gib),
      queue: { kind: 'embedded', dir: temp.dir },
    });
    const post = (payload: object) => app.http.inject({ method: 'POST', url: '/load', headers: auth, payload });
    const huge = await post({ count: 1_000_000, payloadBytes: bigPayload });
    expect(huge.statusCode).toBe(429);
    expect(huge.headers['retry-after']).toBeDefined();
    expect(huge.json()).toEqual({ error: 'insufficient_storage', message: expect.stringContaining('PRODUCER_MIN_FREE_BYTES') });
    // ~0.6 GB each, sent one message per second: the first fits, the second would not beside it.
    const first = await post({ count: 3_000, payloadBytes: bigPayload, rate: 1 });
    expect(first.statusCode).toBe(202);
    const second = await post({ count: 3_000, payloadBytes: bigPayload, rate: 1 });
    expect(second.statusCode).toBe(429);
    expect(second.json()).toMatchObject({ error: 'insufficient_storage' });
    const { loadId } = first.json() as { loadId: string };
    await app.http.inject({ method: 'DELETE', url: `/load/${loadId}`, headers: auth });
    await waitForEnd(app, loadId);
    // Once the first has ended its bytes no longer count.
    const third = await post({ count: 3_000, payloadBytes: bigPayload, rate: 1 });
    expect(third.statusCode).toBe(202);
    await app.http.inject({ method: 'DELETE', url: `/load/${(third.json() as { loadId: string }).loadId}`, headers: auth });
  });
});

describe('probes, metrics, shutdown', () => {
  it('is ready while the queue answers, 503 (and refuses loads) while it does not', async () => {
    const app = await freshApp();
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    let down = false;
    const realPing = app.queue.ping.bind(app.queue);
    app.queue.ping = async () => {
      if (down) throw new QueueError('UNAVAILABLE', 'no connection', { queue: app.queue.queue });
      return realPing();
    };
    down = true;
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await app.http.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);
    const refused = await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { count: 1 } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ error: 'queue_unavailable' });
    down = false;
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('exports load and send metrics with help text', async () => {
    const app = await freshApp({ batchSize: 40 });
    await waitForEnd(app, (await postLoad(app, { count: 100 })).loadId);
    const response = await app.http.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    const text = response.body;
    expect(text).toMatch(/^# HELP surge_producer_messages_sent_total .+$/m);
    expect(text).toMatch(/^surge_producer_messages_sent_total\{app="producer"\} 100$/m);
    expect(text).toMatch(/^surge_producer_loads_started_total\{app="producer"\} 1$/m);
    expect(text).toMatch(/^surge_producer_loads_finished_total\{outcome="completed",app="producer"\} 1$/m);
    expect(text).toMatch(/^surge_producer_batch_size_messages_count\{app="producer"\} 3$/m); // 40 + 40 + 20
    expect(text).toMatch(/^surge_producer_send_duration_seconds_count\{app="producer"\} 3$/m);
    expect(text).toMatch(/^# HELP surge_producer_loads_active .+$/m);
  });

  it('on stop: refuses new loads with 503, cancels long loads, logs what each sent', async () => {
    const app = await freshApp();
    const { loadId } = await postLoad(app, { count: 100_000, rate: 500 });
    await waitUntil(async () => (await statusOf(app, loadId)).sent > 0, 'the first batch');
    const stopping = app.stop(500);
    const refused = await app.http.inject({ method: 'POST', url: '/load', headers: auth, payload: { count: 1 } });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ error: 'shutting_down' });
    expect((await app.http.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    const finals = await stopping;
    expect(finals).toHaveLength(1);
    expect(finals[0]).toMatchObject({ loadId, state: 'cancelled' });
    expect((await app.queue.depth()).ready).toBe(finals[0]!.sent);
    expect(app.lines).toContainEqual(
      expect.objectContaining({ msg: 'load at shutdown', loadId, sent: finals[0]!.sent, state: 'cancelled' }),
    );
  });
});
