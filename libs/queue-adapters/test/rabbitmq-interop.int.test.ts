/**
 * The RabbitMQ backend seen from outside Surge, against a real private broker node:
 * - a foreign AMQP client (Debian's python3-pika) reads what the producer path publishes;
 * - an observing client (`usage: 'observe'`, the exporter) reads depth of a queue declared with
 *   another delivery limit than its own QUEUE_MAX_DELIVERIES;
 * - depth answers the real broker cannot produce (negative, huge, oversized) come from a loopback
 *   HTTP server standing in for the management API, next to the real broker's AMQP port.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRabbitMq, type RabbitMqInstance } from '@surge/testing';
import { createQueueClient, type QueueClient, type RabbitMqQueueConfig } from '../src/index.ts';
import { MAX_MANAGEMENT_ANSWER_BYTES } from '../src/rabbitmq/management.ts';

const PYTHON = '/usr/bin/python3';

let broker: RabbitMqInstance;
beforeAll(async () => {
  broker = await startRabbitMq();
}, 120_000);
afterAll(async () => {
  await broker?.stop();
}, 60_000);

function config(queue: string, overrides: Partial<RabbitMqQueueConfig> = {}): RabbitMqQueueConfig {
  return {
    kind: 'rabbitmq',
    queue,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
    url: broker.url,
    managementUrl: broker.managementUrl,
    prefetch: undefined,
    ...overrides,
  };
}

const uniqueQueue = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Polls until `accept` holds (management statistics are sampled by the broker). */
async function eventually<T>(fn: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch((error: unknown) => error as T);
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${String(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// pika's basic_get, as a consumer outside Node would read the message: content type, id and body.
const PIKA_GET = `
import json, sys, pika
connection = pika.BlockingConnection(pika.URLParameters(sys.argv[1]))
channel = connection.channel()
method, properties, body = channel.basic_get(sys.argv[2], auto_ack=True)
print(json.dumps(None if method is None else {"content_type": properties.content_type, "message_id": properties.message_id, "body": body.decode("utf-8")}))
connection.close()
`;

describe('rabbitmq seen by a foreign AMQP client', () => {
  const hasPika = existsSync(PYTHON);
  it.runIf(hasPika)('python3-pika reads a sent message with content_type application/json', async () => {
    const queue = uniqueQueue('interop');
    const client = await createQueueClient(config(queue));
    try {
      await client.send([{ id: '00000000-0000-4000-8000-000000000001', body: Buffer.from('{"work":1}') }]);
      const { stdout } = await promisify(execFile)(PYTHON, ['-c', PIKA_GET, broker.url, queue], { timeout: 30_000 });
      expect(JSON.parse(stdout)).toEqual({
        content_type: 'application/json',
        message_id: '00000000-0000-4000-8000-000000000001',
        body: '{"work":1}',
      });
    } finally {
      await client.close();
    }
  });
  it.skipIf(hasPika)(`needs ${PYTHON} with python3-pika`, () => undefined);
});

describe('rabbitmq depth for an observer', () => {
  it('reads depth of a queue the workers declared with another QUEUE_MAX_DELIVERIES, and declares nothing itself', async () => {
    const queue = uniqueQueue('observe');
    const worker = await createQueueClient(config(queue, { maxDeliveries: 3 }), { usage: 'consume' });
    const open: QueueClient[] = [worker];
    try {
      await worker.send([{ id: '00000000-0000-4000-8000-000000000002', body: Buffer.from('{}') }]);
      // A client that declares (the default) is refused: x-delivery-limit differs.
      await expect(createQueueClient(config(queue, { maxDeliveries: 5 }))).rejects.toMatchObject({ code: 'QUEUE_INCOMPATIBLE' });
      const observer = await createQueueClient(config(queue, { maxDeliveries: 5 }), { usage: 'observe' });
      open.push(observer);
      const depth = await eventually(
        () => observer.depth(),
        (d) => (d as { ready?: number }).ready === 1,
      );
      expect(depth).toEqual({ ready: 1, inFlight: 0, deadLettered: 0 });

      // A queue nobody declared yet stays undeclared: its depth is an error, not a queue created with the observer's settings.
      const absent = uniqueQueue('absent');
      const early = await createQueueClient(config(absent), { usage: 'observe' });
      open.push(early);
      await expect(early.depth()).rejects.toMatchObject({ code: 'QUEUE_NOT_FOUND' });
      const again = await createQueueClient(config(absent, { maxDeliveries: 9 }));
      open.push(again);
    } finally {
      await Promise.allSettled(open.map((c) => c.close()));
    }
  });
});

describe('rabbitmq depth from a management API that misreports (loopback stand-in)', () => {
  let server: Server;
  let answer: (path: string) => { status: number; body: string | Buffer };
  let standIn: string;
  beforeAll(async () => {
    server = createServer((request, response) => {
      const { status, body } = answer(request.url ?? '');
      response.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    standIn = `http://monitor:pw@127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['a negative ready', '{"messages_ready":-5,"messages_unacknowledged":0}'],
    ['a total of 1e308', '{"messages_ready":1e308,"messages_unacknowledged":0}'],
    ['a fractional count', '{"messages_ready":1.5,"messages_unacknowledged":0}'],
    ['a string count', '{"messages_ready":"7","messages_unacknowledged":0}'],
    ['a body that is not JSON', '<html>proxy error</html>'],
  ])('%s is QUEUE_DEPTH_INVALID (retryable), never a number', async (_what, body) => {
    answer = () => ({ status: 200, body });
    const client = await createQueueClient(config(uniqueQueue('misreport'), { managementUrl: standIn }));
    try {
      await expect(client.depth()).rejects.toMatchObject({ code: 'QUEUE_DEPTH_INVALID', retryable: true });
    } finally {
      await client.close();
    }
  });

  it('an answer larger than the cap is refused without being read whole', async () => {
    // 50 MB of valid-looking JSON: buffered whole it cost the exporter ~240 MB of RSS.
    const huge = Buffer.alloc(50 * 1024 * 1024, 0x20);
    huge.write('{"messages_ready":1,"messages_unacknowledged":0,"pad":"', 0);
    huge.write('"}', huge.length - 2);
    let served = 0;
    answer = () => {
      served++;
      return { status: 200, body: huge };
    };
    const client = await createQueueClient(config(uniqueQueue('oversized'), { managementUrl: standIn }));
    try {
      await expect(client.depth()).rejects.toMatchObject({
        code: 'QUEUE_DEPTH_INVALID',
        message: expect.stringContaining(`${MAX_MANAGEMENT_ANSWER_BYTES} bytes`),
      });
      expect(served).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });
});
