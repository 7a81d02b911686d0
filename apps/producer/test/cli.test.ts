/** The load CLI as a process against a real producer (in-process app on a loopback port, embedded queue). */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueError, type OutgoingMessage, type QueueClient } from '@surge/queue-adapters';
import type { ProducerApp } from '../src/app.ts';
import { TOKEN, appDir, embeddedConfig, makeApp, openQueue, tempDir } from './support.ts';

const temp = tempDir('surge-producer-cli-');
let queue: QueueClient;
let app: ProducerApp;
let base: string;
let failSends = false;

beforeAll(async () => {
  queue = await openQueue(embeddedConfig(temp.dir));
  const flaky = Object.create(queue) as QueueClient;
  flaky.send = async (batch: readonly OutgoingMessage[]) => {
    if (failSends) throw new QueueError('MESSAGE_TOO_LARGE', 'the broker refused the message', { queue: queue.queue });
    return queue.send(batch);
  };
  app = await makeApp(flaky);
  base = await app.http.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.stop(1_000);
  await queue.close();
  temp.remove();
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['src/cli.ts', ...args], {
      cwd: appDir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('load CLI', () => {
  it('posts a load, prints plain progress lines off a TTY, then the summary; exit 0', async () => {
    const result = await cli(['--count', '600', '--rate', '1000', '--url', base, '--poll-ms', '100'], { PRODUCER_TOKEN: TOKEN });
    expect(result.stderr).toMatch(/^load \S+ accepted: http:\/\/127\.0\.0\.1:\d+\/load\/\S+$/m);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatch(/^(pending|running|completed) +\d+% [\d,]+\/600 rate=[\d,]+\/s eta=/);
    expect(lines.at(-1)).toMatch(
      /^load \S+ completed: 600\/600 messages sent \(confirmed by the broker\) in [\d.]+ s, [\d,]+ msg\/s \(requested 1,000 msg\/s\)$/,
    );
    expect(result.stdout).not.toContain('\r');
  });

  it('exits 1 with the reason when the load fails', async () => {
    failSends = true;
    try {
      const result = await cli(['--count', '10', '--url', base, '--token', TOKEN, '--poll-ms', '100']);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/failed: 0\/10 messages sent/);
      expect(result.stdout).toMatch(/^error: QUEUE_MESSAGE_TOO_LARGE: the broker refused the message$/m);
    } finally {
      failSends = false;
    }
  });

  it('exits 1 when the producer refuses the load, naming why', async () => {
    const unauthorized = await cli(['--count', '10', '--url', base]);
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toContain('401 unauthorized');
    const invalid = await cli(['--count', '0', '--url', base, '--token', TOKEN]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/400 invalid_request \(count must be/);
  });

  it('exits 2 on a usage error', async () => {
    const result = await cli(['--rate', '5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--count is required');
    expect(result.stderr).toContain('usage: npm run load');
  });
});
