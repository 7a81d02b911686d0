/**
 * One trace per message, across real processes: the producer and a worker export spans over
 * OTLP/HTTP to a receiver this test runs on loopback (a protocol-level peer of an OpenTelemetry
 * collector). The worker's process span must sit in the producer's trace, parented on (and linked
 * to) the message's create span. With tracing off, worker-job must not load any OpenTelemetry module.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freeLoopbackPorts } from '@surge/testing';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const appDir = (app: string): string => path.join(repo, 'apps', app);

interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  links: string[];
  attributes: Record<string, unknown>;
}

/** OTLP/JSON ids are hex strings in the JS exporter; base64 in the spec's protobuf-JSON mapping. */
function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/i.test(id) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

function attributeValue(value: Record<string, unknown>): unknown {
  return value['stringValue'] ?? value['intValue'] ?? value['doubleValue'] ?? value['boolValue'];
}

async function startOtlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces' && String(req.headers['content-type']).includes('json')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: {
            resource: { attributes: { key: string; value: Record<string, unknown> }[] };
            scopeSpans: { spans: Record<string, unknown>[] }[];
          }[];
        };
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributeValue(rs.resource.attributes.find((a) => a.key === 'service.name')?.value ?? {}));
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({
                service,
                name: String(s['name']),
                traceId: hexId(s['traceId'] as string),
                spanId: hexId(s['spanId'] as string),
                parentSpanId: hexId(s['parentSpanId'] as string | undefined),
                links: ((s['links'] as { spanId: string }[] | undefined) ?? []).map((l) => hexId(l.spanId)),
                attributes: Object.fromEntries(
                  ((s['attributes'] as { key: string; value: Record<string, unknown> }[]) ?? []).map((a) => [
                    a.key,
                    attributeValue(a.value),
                  ]),
                ),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        // Only JSON is parsed here: say so loudly rather than pass on silence.
        res.writeHead(415).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const children: ChildProcess[] = [];
function start(app: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['src/main.ts'], {
    cwd: appDir(app),
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (c: Buffer) => process.stderr.write(`[${app}] ${c.toString()}`));
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('tracing across processes', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let dir: string;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await receiver.close();
  });

  async function postOneMessage(queue: string): Promise<string> {
    const [port] = await freeLoopbackPorts(1);
    start('producer', {
      HOST: '127.0.0.1',
      PORT: String(port),
      PRODUCER_AUTH_DISABLED: 'true',
      QUEUE_NAME: queue,
      EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('producer ready', () =>
      fetch(`${base}/readyz`).then(
        (r) => (r.ok ? true : undefined),
        () => undefined,
      ),
    );
    const response = await fetch(`${base}/load`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 1 }),
    });
    expect(response.status).toBe(202);
    const create = await waitFor('the producer create span', () =>
      receiver.spans.find((s) => s.service === 'producer' && s.name === `create ${queue}`),
    );
    return create.spanId;
  }

  function expectConnected(queue: string, createSpanId: string, service: string): ReceivedSpan {
    const create = receiver.spans.find((s) => s.spanId === createSpanId)!;
    const processSpan = receiver.spans.find((s) => s.service === service && s.name === `process ${queue}`);
    expect(processSpan, `a process span from ${service}`).toBeDefined();
    expect(processSpan!.traceId).toBe(create.traceId);
    expect(processSpan!.parentSpanId).toBe(create.spanId);
    expect(processSpan!.links).toContain(create.spanId);
    expect(processSpan!.attributes['messaging.message.id']).toBe(create.attributes['messaging.message.id']);
    expect(processSpan!.attributes['messaging.destination.name']).toBe(queue);
    return processSpan!;
  }

  it('POST /load → worker-deployment: the producer and consumer spans are one trace', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'surge-trace-'));
    const queue = 'trace-deployment';
    const createSpanId = await postOneMessage(queue);
    const [port] = await freeLoopbackPorts(1);
    start('worker-deployment', {
      HOST: '127.0.0.1',
      PORT: String(port),
      QUEUE_NAME: queue,
      EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
      RESULTS_DIR: path.join(dir, 'results'),
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    await waitFor(
      'the worker-deployment process span',
      () => receiver.spans.find((s) => s.service === 'worker-deployment' && s.name === `process ${queue}`),
      60_000,
    );
    expectConnected(queue, createSpanId, 'worker-deployment');
  }, 120_000);

  it('POST /load → worker-job: the producer, receive and process spans are connected', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'surge-trace-'));
    const queue = 'trace-job';
    const createSpanId = await postOneMessage(queue);
    const job = start('worker-job', {
      QUEUE_NAME: queue,
      EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
      RESULTS_DIR: path.join(dir, 'results'),
      RECEIVE_WAIT_MS: '2000',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    });
    expect(await exited(job)).toBe(0);
    // worker-job flushes its spans before it exits: they must be here already.
    expectConnected(queue, createSpanId, 'worker-job');
    expect(receiver.spans.some((s) => s.service === 'worker-job' && s.name === `receive ${queue}`)).toBe(true);
  }, 120_000);

  it('with tracing off, worker-job loads no OpenTelemetry module', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'surge-trace-'));
    const record = path.join(dir, 'modules.json');
    // A preload that records every bare specifier the process imports and writes them at exit.
    const recorder = path.join(dir, 'record-modules.mjs');
    writeFileSync(
      recorder,
      `import { registerHooks } from 'node:module';
import { writeFileSync } from 'node:fs';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('file:')) seen.add(specifier); return next(specifier, context); } });
process.on('exit', () => writeFileSync(${JSON.stringify(record)}, JSON.stringify([...seen])));
`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      QUEUE_NAME: 'trace-off',
      EMBEDDED_QUEUE_DIR: path.join(dir, 'queue'),
      RESULTS_DIR: path.join(dir, 'results'),
      RECEIVE_WAIT_MS: '200',
    };
    delete env['OTEL_EXPORTER_OTLP_ENDPOINT'];
    const job = spawn(process.execPath, ['--import', recorder, 'src/main.ts'], { cwd: appDir('worker-job'), env, stdio: 'ignore' });
    expect(await exited(job)).toBe(0);
    const modules = JSON.parse(readFileSync(record, 'utf8')) as string[];
    // The recorder works: it saw our own packages.
    expect(modules).toContain('@surge/queue-adapters');
    expect(modules.filter((m) => m.startsWith('@opentelemetry/'))).toEqual([]);
  }, 60_000);
});
