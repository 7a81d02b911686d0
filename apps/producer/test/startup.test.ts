/**
 * The producer started under faults: a broker that is not there yet (it serves 503 and connects
 * by itself once the broker comes), a queue folder or file that can never work, a taken port.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startRabbitMq, type RabbitMqInstance } from '@surge/testing';
import { TOKEN, spawnProducer, tempDir, uniqueQueueName, waitUntil, type SpawnedProducer } from './support.ts';

const temp = tempDir('surge-producer-startup-');
const running: SpawnedProducer[] = [];
let broker: RabbitMqInstance | undefined;
let blocker: Server | undefined;

async function start(env: Record<string, string>): Promise<SpawnedProducer> {
  const producer = await spawnProducer({ PRODUCER_TOKEN: TOKEN, ...env });
  running.push(producer);
  return producer;
}

const postLoad = (base: string): Promise<Response> =>
  fetch(`${base}/load`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ count: 3 }),
  });

afterEach(async () => {
  for (const producer of running.splice(0)) {
    if (producer.child.exitCode === null && producer.child.signalCode === null) {
      producer.child.kill('SIGKILL');
      await producer.exited;
    }
  }
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});
afterAll(async () => {
  await broker?.stop();
  temp.remove();
});

describe('producer start-up under faults', () => {
  it('serves 503 while the broker is away and recovers by itself when it starts', async () => {
    broker = await startRabbitMq({ env: {} });
    await broker.stopBroker();
    const producer = await start({ QUEUE_KIND: 'rabbitmq', RABBITMQ_URL: broker.url, QUEUE_NAME: uniqueQueueName('later') });
    const base = await producer.ready;
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    const refused = await postLoad(base);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: string }).error).toBe('queue_unavailable');

    await broker.startBroker();
    await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 'readiness after the broker started', 90_000);
    expect((await postLoad(base)).status).toBe(202);
    expect(producer.child.exitCode).toBeNull();
    expect(producer.lines).toContainEqual(expect.objectContaining({ msg: 'queue available: connected' }));
  }, 180_000);

  it('an embedded folder that cannot be created: one line, exit 2', async () => {
    const file = path.join(temp.dir, 'a-file');
    writeFileSync(file, 'x');
    const producer = await start({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: path.join(file, 'queue') });
    expect(await producer.exited).toEqual({ code: 2, signal: null });
    expect(producer.stderr()).toMatch(
      /^producer: exit 2: configuration error: EMBEDDED_QUEUE_DIR: expected a path whose parts are folders/,
    );
    expect(producer.stderr().trim().split('\n')).toHaveLength(1);
  });

  it("an embedded queue file that is not a database: one line, exit 3 (the workers' queue code)", async () => {
    const dir = path.join(temp.dir, 'damaged');
    const queue = uniqueQueueName('damaged');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    writeFileSync(path.join(dir, `${queue}.sqlite`), Buffer.alloc(8192, 0x5a));
    const producer = await start({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: dir, QUEUE_NAME: queue });
    expect(await producer.exited).toEqual({ code: 3, signal: null });
    expect(producer.stderr()).toMatch(/^producer: exit 3: queue failure: .*damaged/);
    expect(producer.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('a taken port: one line naming it, exit 2', async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker!.listen(0, '127.0.0.1', () => resolve((blocker!.address() as { port: number }).port)),
    );
    const producer = await start({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: path.join(temp.dir, 'port'), PORT: String(port) });
    expect(await producer.exited).toEqual({ code: 2, signal: null });
    expect(producer.stderr()).toMatch(new RegExp(`^producer: exit 2: cannot listen on 127.0.0.1:${port} \\(PORT\\): .*EADDRINUSE`));
    expect(producer.stderr().trim().split('\n')).toHaveLength(1);
  });
});
