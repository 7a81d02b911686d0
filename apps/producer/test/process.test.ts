/** The producer as a real process: configuration errors, the auth opt-out warning, SIGTERM mid-load. */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TOKEN, embeddedConfig, openQueue, spawnProducer, tempDir, uniqueQueueName, waitUntil, type SpawnedProducer } from './support.ts';

const temp = tempDir('surge-producer-process-');
const running: SpawnedProducer[] = [];

async function start(env: Record<string, string>): Promise<SpawnedProducer> {
  const producer = await spawnProducer({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: temp.dir, ...env });
  running.push(producer);
  return producer;
}

afterEach(async () => {
  for (const producer of running.splice(0)) {
    if (producer.child.exitCode === null && producer.child.signalCode === null) {
      producer.child.kill('SIGKILL');
      await producer.exited;
    }
  }
});
afterAll(() => temp.remove());

describe('producer process', () => {
  it.each([
    [{}, /^configuration error: PRODUCER_TOKEN: expected a bearer token .*PRODUCER_AUTH_DISABLED=true/],
    [{ PRODUCER_TOKEN: 'short' }, /^configuration error: PRODUCER_TOKEN: expected at least 16 characters, got 5 characters$/m],
    [{ PRODUCER_TOKEN: TOKEN, PRODUCER_BATCH_SIZE: 'lots' }, /^configuration error: PRODUCER_BATCH_SIZE: expected an integer/],
    [{ PRODUCER_AUTH_DISABLED: 'perhaps' }, /^configuration error: PRODUCER_AUTH_DISABLED: expected true or false/],
  ])('refuses bad configuration %j with one line and exit code 2', async (env, message) => {
    const producer = await start(env);
    expect(await producer.exited).toEqual({ code: 2, signal: null });
    expect(producer.stderr()).toMatch(message);
    expect(producer.stderr()).not.toContain('short');
    expect(producer.stderr().trim().split('\n')).toHaveLength(1);
  });

  it('warns at start when auth is disabled, and stops at once on SIGTERM when idle', async () => {
    const producer = await start({ PRODUCER_AUTH_DISABLED: 'true', QUEUE_NAME: uniqueQueueName('idle') });
    const base = await producer.ready;
    expect(producer.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', msg: expect.stringContaining('PRODUCER_AUTH_DISABLED=true') }),
    );
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    const accepted = await fetch(`${base}/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 5 }),
    });
    expect(accepted.status).toBe(202);
    producer.child.kill('SIGTERM');
    expect(await producer.exited).toEqual({ code: 0, signal: null });
  });

  it('on SIGTERM mid-load: stops taking loads, cancels within the grace period, logs what was sent, exits 0', async () => {
    const queueName = uniqueQueueName('sigterm');
    const producer = await start({ PRODUCER_TOKEN: TOKEN, QUEUE_NAME: queueName, SHUTDOWN_GRACE_MS: '3000' });
    const base = await producer.ready;
    const posted = await fetch(`${base}/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ count: 1_000_000, rate: 2_000 }),
    });
    expect(posted.status).toBe(202);
    const { loadId } = (await posted.json()) as { loadId: string };
    await waitUntil(
      async () =>
        ((await (await fetch(`${base}/load/${loadId}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { sent: number })
          .sent > 0,
      'the first batch',
    );

    producer.child.kill('SIGTERM');
    expect(await producer.exited).toEqual({ code: 0, signal: null });
    const atShutdown = producer.lines.find((l) => l.msg === 'load at shutdown');
    expect(atShutdown).toMatchObject({ loadId, state: 'cancelled', total: 1_000_000, sent: expect.any(Number) });
    expect(producer.lines).toContainEqual(expect.objectContaining({ msg: 'producer stopped', reason: 'SIGTERM', sent: atShutdown!.sent }));
    // What the log says was sent is what the queue holds.
    const queue = await openQueue(embeddedConfig(temp.dir, queueName));
    try {
      expect((await queue.depth()).ready).toBe(atShutdown!.sent);
    } finally {
      await queue.close();
    }
  });
});
