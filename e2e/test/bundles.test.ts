/**
 * Every app's built bundle (`npx nx build <app>` → `apps/<app>/dist/main.js`) run where it was built,
 * inside the repository, with tracing off and on. The bundle keeps npm packages external, so it
 * resolves them upwards from `apps/<app>/dist` to the root `node_modules`: a package npm nested under
 * a lib's own `node_modules` (as it once did with the OpenTelemetry SDK under libs/telemetry) cannot be
 * found from there, and the app crashed at start with ERR_MODULE_NOT_FOUND as soon as tracing was on.
 *
 * Per mode: producer, worker-deployment and exporter reach `/readyz` 200 on one embedded queue (the
 * producer sends a load of 2 that worker-deployment processes), worker-job takes what is left and
 * exits 0, keda-local's `help` exits 0. With tracing on, the apps that trace (producer, both
 * workers) must have sent spans to a loopback OTLP/HTTP receiver; with it off, nothing reaches it.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWorker } from '@surge/testing';
import { REPO_ROOT, appDir, startApp, tempDir, uniqueQueueName, waitUntil, type RunningApp } from '../src/index.ts';

const APPS = ['producer', 'worker-deployment', 'worker-job', 'exporter', 'keda-local'] as const;
const TOKEN = 'bundle-test-token-0123456789abcdef';

/** A loopback OTLP/HTTP receiver: records each export request's path and body, answers 200. */
function otlpReceiver() {
  const requests: { path: string; body: Buffer }[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      requests.push({ path: request.url ?? '', body: Buffer.concat(chunks) });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return {
    requests,
    /** Export requests for traces whose resource names `service` (the body carries service.name, JSON or protobuf). */
    tracesFrom: (service: string) => requests.filter((r) => r.path.startsWith('/v1/traces') && r.body.includes(service)).length,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`)),
      ),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

const bundle = (app: string) => ({ cwd: path.join(appDir(app), 'dist'), script: 'main.js' });

async function ready(app: RunningApp): Promise<void> {
  await waitUntil(async () => (await fetch(`${app.url}/readyz`).catch(() => undefined))?.status === 200, `${app.app} /readyz 200`);
}

const receiver = otlpReceiver();
let endpoint: string;

beforeAll(async () => {
  // One nx invocation builds all five (nx runs them in dependency order, cached when unchanged).
  await promisify(execFile)('npx', ['nx', 'run-many', '-t', 'build', '-p', APPS.join(','), '--outputStyle=static'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false' },
    timeout: 200_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  endpoint = await receiver.start();
});
afterAll(async () => {
  await receiver.close();
});

describe.each([
  ['off', false],
  ['on', true],
])('built bundles in the repository, tracing %s', (_mode, tracing) => {
  const running: RunningApp[] = [];
  afterAll(async () => {
    await Promise.all(running.map((app) => app.stop(5_000)));
  });

  it('every app starts from dist/main.js and reaches readiness or its documented end', async () => {
    const queueDir = tempDir('surge-bundles-queue-');
    const resultsDir = tempDir('surge-bundles-results-');
    const before = receiver.requests.length;
    const env = {
      QUEUE_KIND: 'embedded',
      QUEUE_NAME: uniqueQueueName('bundles'),
      EMBEDDED_QUEUE_DIR: queueDir.dir,
      RESULTS_KIND: 'local',
      RESULTS_DIR: resultsDir.dir,
      PRODUCER_TOKEN: TOKEN,
      ...(tracing ? { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } : {}),
    };
    try {
      const producer = await startApp({ app: 'producer', ...bundle('producer'), env });
      running.push(producer);
      await ready(producer);
      const load = await fetch(`${producer.url}/load`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ count: 2 }),
      });
      expect(load.status).toBe(202);

      const workers = await startApp({ app: 'worker-deployment', ...bundle('worker-deployment'), env });
      running.push(workers);
      await ready(workers);
      const exporter = await startApp({ app: 'exporter', ...bundle('exporter'), env });
      running.push(exporter);
      await ready(exporter);
      await waitUntil(async () => {
        const depth = (await (await fetch(`${exporter.url}/api/v1/queues/${env.QUEUE_NAME}`)).json()) as { total?: number };
        return depth.total === 0;
      }, 'worker-deployment to drain the load');

      // worker-job on the drained queue: its documented end is exit 0 ("queue empty").
      const job = spawnWorker({ ...bundle('worker-job'), env: { ...env, RECEIVE_WAIT_MS: '500', LOG_LEVEL: 'warn' } });
      expect((await job.exited).code, job.stderr()).toBe(0);
      // keda-local is a CLI: `help` prints its usage and exits 0.
      const help = await promisify(execFile)(process.execPath, ['main.js', 'help'], {
        cwd: bundle('keda-local').cwd,
        env: { PATH: process.env.PATH ?? '', ...env },
        timeout: 30_000,
      });
      expect(help.stdout).toMatch(/keda-local/);

      for (const app of running.splice(0)) expect((await app.stop(10_000)).code, `${app.app} exit on SIGTERM`).toBe(0);

      if (tracing) {
        for (const service of ['producer', 'worker-deployment', 'worker-job']) {
          await waitUntil(() => receiver.tracesFrom(service) > 0, `a span export from ${service}`);
        }
      } else {
        expect(receiver.requests.length).toBe(before);
      }
    } finally {
      queueDir.remove();
      resultsDir.remove();
    }
  });
});
