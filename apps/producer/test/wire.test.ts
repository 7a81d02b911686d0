/**
 * The producer on a real socket, spoken to byte by byte: requests that never reach a route (bad
 * URLs, oversized headers, broken framing, slow clients) get the same error shape as every other
 * error, echo nothing at length, and a slow client cannot hold a connection open.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueClient } from '@surge/queue-adapters';
import type { ProducerApp } from '../src/app.ts';
import { TOKEN, embeddedConfig, makeApp, openQueue, spawnProducer, tempDir, uniqueQueueName } from './support.ts';

const temp = tempDir('surge-producer-wire-');
// Small on purpose, so the test sees the timeouts fire; the defaults are 10 s and 5 s.
const REQUEST_TIMEOUT_MS = 1_000;
const HEADERS_TIMEOUT_MS = 500;
/** Far above the configured timeouts: how long the test waits for the server to close, not a timing assertion. */
const CLOSE_WAIT_MS = 20_000;

let queue: QueueClient;
let app: ProducerApp;
/** The port `speak` talks to: the in-process app, or the producer process in the last block. */
let port: number;

beforeAll(async () => {
  queue = await openQueue(embeddedConfig(temp.dir));
  app = await makeApp(queue, { requestTimeoutMs: REQUEST_TIMEOUT_MS, headersTimeoutMs: HEADERS_TIMEOUT_MS });
  port = Number(new URL(await app.http.listen({ host: '127.0.0.1', port: 0 })).port);
});
afterAll(async () => {
  await app?.stop(1_000);
  await queue?.close();
  temp.remove();
});

interface RawAnswer {
  /** Everything the server wrote. */
  raw: string;
  /** True when the server closed the connection within CLOSE_WAIT_MS. */
  closed: boolean;
}

/**
 * Writes `parts` on a fresh connection (`gapMs` between them, stopping once the server closes) and
 * collects what comes back until the server closes the connection or CLOSE_WAIT_MS passes.
 */
function speak(parts: string[], gapMs = 0): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let raw = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ raw, closed });
    };
    const giveUp = setTimeout(() => finish(false), CLOSE_WAIT_MS);
    socket.on('data', (chunk) => (raw += chunk.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => {});
    socket.once('connect', async () => {
      for (const part of parts) {
        if (done || socket.destroyed) return;
        socket.write(part);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: Record<string, unknown>;
}

/** Splits what the server wrote into responses (each framed by its Content-Length). */
function responses(raw: string): Answer[] {
  const out: Answer[] = [];
  let rest = raw;
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const [statusLine, ...lines] = rest.slice(0, end).split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length'] ?? 0);
    const text = rest.slice(end + 4, end + 4 + length);
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, text, body: JSON.parse(text) as Record<string, unknown> });
    rest = rest.slice(end + 4 + length);
  }
  return out;
}

/** The one error shape: a stable snake_case `error` code, a short message or field errors, nothing of fastify's own body. */
function expectErrorShape(answer: Answer, status: number, error: string): void {
  expect(answer.status).toBe(status);
  expect(answer.body.error).toBe(error);
  expect(Object.keys(answer.body).sort()).toEqual(answer.body.errors === undefined ? ['error', 'message'] : ['error', 'errors']);
  expect(answer.text).not.toMatch(/FST_|statusCode/);
  expect(answer.text.length).toBeLessThan(600);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
}

const auth = `Authorization: Bearer ${TOKEN}\r\n`;
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}${extra}Connection: close\r\n\r\n`;
const post = (body: string, extra = ''): string =>
  `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

describe('errors that never reach a route', () => {
  it('a URL that cannot be decoded (/load/%ff) → 400 invalid_request naming the URL', async () => {
    const [answer] = responses((await speak([get('/load/%ff')])).raw);
    expectErrorShape(answer!, 400, 'invalid_request');
    expect(answer!.body.errors).toEqual([{ field: '(url)', message: expect.any(String) }]);
  });

  it('a 10 KB load id → 414 without the id echoed', async () => {
    const id = 'a'.repeat(10_000);
    const [answer] = responses((await speak([get(`/load/${id}`)])).raw);
    expectErrorShape(answer!, 414, 'uri_too_long');
    expect(answer!.text).not.toContain('a'.repeat(101));
  });

  it('an unknown route with a long path → 404 with the path cut short', async () => {
    const [answer] = responses((await speak([get(`/${'b'.repeat(5_000)}`)])).raw);
    expectErrorShape(answer!, 404, 'not_found');
    expect(answer!.text).not.toContain('b'.repeat(101));
  });

  it('oversized headers → 431 in the same shape, connection closed', async () => {
    const { raw, closed } = await speak([get('/livez', `X-Padding: ${'c'.repeat(20_000)}\r\n`)]);
    const [answer] = responses(raw);
    expectErrorShape(answer!, 431, 'headers_too_large');
    expect(closed).toBe(true);
  });

  it('a 10 KB content type → 415 without it echoed', async () => {
    const [answer] = responses(
      (
        await speak([
          `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: text/${'d'.repeat(10_000)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
        ])
      ).raw,
    );
    expectErrorShape(answer!, 415, 'unsupported_media_type');
  });

  it('a Content-Length that is not a number → 400 naming Content-Length', async () => {
    const [answer] = responses(
      (await speak([`POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`]))
        .raw,
    );
    expectErrorShape(answer!, 400, 'invalid_request');
    expect(answer!.body.errors).toEqual([{ field: '(content-length)', message: expect.any(String) }]);
  });

  it('a body longer than its Content-Length: the rest is a malformed request → 400 in the same shape, connection closed', async () => {
    const body = '{"count":1}';
    const { raw, closed } = await speak([
      `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\n\r\n${body}`,
    ]);
    const answers = responses(raw);
    expect(answers.length).toBeGreaterThanOrEqual(1);
    // The parser meets the leftover bytes as the next request; the cut body may also be answered (invalid JSON).
    for (const answer of answers)
      expectErrorShape(answer, 400, answer.body.error === 'invalid_request' ? 'invalid_request' : 'bad_request');
    expect(answers.map((a) => a.body.error)).toContain('bad_request');
    expect(closed).toBe(true);
    expect(app.loads.list()).toEqual([]);
  });

  it('a body shorter than its Content-Length → 408 once the request timeout passes, connection closed', async () => {
    const { raw, closed } = await speak([
      `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"count":1}`,
    ]);
    expect(closed).toBe(true);
    expectErrorShape(responses(raw)[0]!, 408, 'request_timeout');
  });

  it('prototype poisoning → 400 that says so, not "is not valid JSON"', async () => {
    const [answer] = responses((await speak([post('{"count":1,"__proto__":{"admin":true}}')])).raw);
    expectErrorShape(answer!, 400, 'invalid_request');
    expect(answer!.body.errors).toEqual([{ field: '(body)', message: expect.stringContaining('__proto__') }]);
    const [constructorKey] = responses((await speak([post('{"count":1,"work":{"constructor":{"prototype":{"x":1}}}}')])).raw);
    expect(constructorKey!.body.errors).toEqual([{ field: '(body)', message: expect.stringContaining('constructor.prototype') }]);
    const [broken] = responses((await speak([post('{"count":')])).raw);
    expect(broken!.body.errors).toEqual([{ field: '(body)', message: 'is not valid JSON' }]);
  });
});

describe('slow clients', () => {
  it('a body sent a byte at a time is answered 408 and the connection closed after the request timeout', async () => {
    const body = JSON.stringify({ count: 1, loadId: 'slow-body' }).padEnd(200, ' ');
    const head = `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    // 200 bytes, one every 50 ms: ~10 s to send, ten times the configured request timeout.
    const { raw, closed } = await speak([head, ...body.split('')], 50);
    expect(closed).toBe(true);
    expectErrorShape(responses(raw)[0]!, 408, 'request_timeout');
    expect(app.loads.list()).toEqual([]);
  });

  it('headers sent a byte at a time are answered 408 and the connection closed', async () => {
    const head = `GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'e'.repeat(200)}\r\n\r\n`;
    const { raw, closed } = await speak(head.split(''), 50);
    expect(closed).toBe(true);
    expectErrorShape(responses(raw)[0]!, 408, 'request_timeout');
  });

  it('still serves after all of that', async () => {
    const [answer] = responses((await speak([get('/livez')])).raw);
    expect(answer!.status).toBe(200);
  });
});

describe('the producer process', () => {
  it('takes its timeouts from the environment and keeps loads behind the token', async () => {
    const producer = await spawnProducer({
      PRODUCER_TOKEN: TOKEN,
      EMBEDDED_QUEUE_DIR: temp.dir,
      QUEUE_NAME: uniqueQueueName('wire'),
      PRODUCER_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      PRODUCER_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    });
    const inProcess = port;
    try {
      port = Number(new URL(await producer.ready).port);
      const head = `POST /load HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 200\r\n\r\n`;
      const { raw, closed } = await speak([head, ...'{"count":1}'.split('')], 200);
      expect(closed).toBe(true);
      expectErrorShape(responses(raw)[0]!, 408, 'request_timeout');
      const [unauthenticated] = responses((await speak([`GET /loads HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`])).raw);
      expectErrorShape(unauthenticated!, 401, 'unauthorized');
      const [slowRate] = responses((await speak([post('{"count":2,"rate":4e-7}')])).raw);
      expectErrorShape(slowRate!, 400, 'invalid_request');
      expect(slowRate!.body.errors).toEqual([{ field: 'rate', message: expect.any(String) }]);
    } finally {
      port = inProcess;
      producer.child.kill('SIGTERM');
      await producer.exited;
    }
    expect(producer.stderr()).not.toContain('TimeoutOverflowWarning');
  });
});
