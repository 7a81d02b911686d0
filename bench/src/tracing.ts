/**
 * `npm run bench -- tracing [--messages N] [--rounds R] [--work-ms W]`
 *
 * What tracing costs worker-deployment: messages (zero work by default, the worst case) on the embedded queue, processed by one
 * worker-deployment process with tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT) and on (spans
 * exported over OTLP/HTTP to a loopback receiver that accepts and drops them), rounds alternating so
 * both see the same machine. Target: tracing on ≥ 0.9× tracing off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createQueueClient } from '@surge/queue-adapters';
import { workMessages } from '@surge/testing';
import { deploymentRate } from './workers.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = (line: string) => process.stdout.write(`${line}\n`);

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      messages: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '3' },
      'work-ms': { type: 'string', default: '0' },
    },
  });
  const count = Number(values.messages);
  const rounds = Number(values.rounds);
  const workMs = Number(values['work-ms']);
  // The source entry: OpenTelemetry is installed under libs/telemetry (nested beside azurite's older
  // copy), which an in-repo dist/main.js cannot resolve; an image installs it next to the bundle.
  const entry = {
    cwd: path.join(repoRoot, 'apps', 'worker-deployment'),
    script: 'src/main.ts',
    label: 'source apps/worker-deployment/src/main.ts',
  };
  let spans = 0;
  const receiver = createServer((req, res) => {
    req.on('data', () => {});
    req.on('end', () => {
      spans++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'surge-bench-tracing-'));
  const rates = { off: [] as number[], on: [] as number[] };
  out(
    `worker-deployment (${entry.label}), ${count} messages of ${workMs} ms work per run, embedded queue, concurrency 16, ${rounds} rounds`,
  );
  try {
    for (let round = 0; round < rounds; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        const queue = `bench-tracing-${round}-${mode}`;
        const dir = path.join(scratch, `${round}-${mode}`);
        const client = await createQueueClient({
          kind: 'embedded',
          queue,
          dir: path.join(dir, 'queue'),
          leaseMs: 30_000,
          maxDeliveries: 5,
          maxProcessingMs: 60_000,
        });
        const { outgoing } = workMessages({ loadId: `bench-${round}`, count, work: { durationMs: workMs, mode: 'wait' } });
        for (let i = 0; i < outgoing.length; i += 500) await client.send(outgoing.slice(i, i + 500));
        await client.close();
        const env: Record<string, string> = {
          HOST: '127.0.0.1',
          PORT: '0',
          QUEUE_NAME: queue,
          EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
          RESULTS_DIR: path.join(dir, 'results'),
          CONCURRENCY: '16',
          LOG_LEVEL: 'info', // deploymentRate waits for the 'ops server listening' and 'consuming' lines
          ...(mode === 'on' ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } : {}),
        };
        const { rate } = await deploymentRate(entry, env, count, { measureIdle: false });
        rates[mode].push(rate);
        out(`  round ${round + 1} tracing ${mode.padEnd(3)} ${rate.toFixed(0)} msg/s`);
      }
    }
    const off = median(rates.off);
    const on = median(rates.on);
    out(
      `median: tracing off ${off.toFixed(0)} msg/s | tracing on ${on.toFixed(0)} msg/s → ${(on / off).toFixed(2)}× (cost ${((1 - on / off) * 100).toFixed(1)}%, target ≤ 10%); OTLP requests received: ${spans}`,
    );
  } finally {
    receiver.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}
