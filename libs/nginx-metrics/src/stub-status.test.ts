import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchStubStatus, parseStubStatus, stubStatusTarget } from './stub-status.ts';
import { isNginxStatusError, NginxStatusError } from './errors.ts';

// Byte for byte what nginx 1.22.1 (Debian nginx-light) serves: every line ends in a space.
const REAL_NGINX_1_22 = 'Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n';
// A busy server, as documented for ngx_http_stub_status_module.
const BUSY =
  'Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 31070465 \nReading: 6 Writing: 179 Waiting: 106 \n';

describe('parseStubStatus', () => {
  it.each([
    ['nginx 1.22 output', REAL_NGINX_1_22, { active: 1, accepted: 1, handled: 1, reading: 0, writing: 1, waiting: 0 }, 1],
    ['a busy server', BUSY, { active: 291, accepted: 16630948, handled: 16630948, reading: 6, writing: 179, waiting: 106 }, 31070465],
    [
      'CRLF line ends (rewritten by a proxy)',
      BUSY.replaceAll('\n', '\r\n'),
      { active: 291, accepted: 16630948, handled: 16630948, reading: 6, writing: 179, waiting: 106 },
      31070465,
    ],
    [
      'no trailing spaces or final newline',
      'Active connections: 3\nserver accepts handled requests\n10 9 42\nReading: 1 Writing: 1 Waiting: 1',
      { active: 3, accepted: 10, handled: 9, reading: 1, writing: 1, waiting: 1 },
      42,
    ],
    [
      'counters past 2^32',
      'Active connections: 0 \nserver accepts handled requests\n 5000000000 5000000000 9007199254740991 \nReading: 0 Writing: 0 Waiting: 0 \n',
      { active: 0, accepted: 5e9, handled: 5e9, reading: 0, writing: 0, waiting: 0 },
      9007199254740991,
    ],
  ])('parses %s', (_name, body, connections, requests) => {
    expect(parseStubStatus(body)).toEqual({ connections, requests });
  });

  it.each([
    ['an empty body', ''],
    ['an HTML error page', '<html><body><h1>404 Not Found</h1></body></html>'],
    ['a truncated page', 'Active connections: 1 \nserver accepts handled requests\n 1 1 1 \n'],
    ['a missing counter', 'Active connections: 1 \nserver accepts handled requests\n 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n'],
    ['a negative number', 'Active connections: -1 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n'],
    ['a non-numeric value', 'Active connections: many \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n'],
    ['a decimal value', 'Active connections: 1.5 \nserver accepts handled requests\n 1 1 1 \nReading: 0 Writing: 1 Waiting: 0 \n'],
    ['fields in the wrong order', 'Active connections: 1 \nserver accepts handled requests\n 1 1 1 \nWriting: 1 Reading: 0 Waiting: 0 \n'],
    ['trailing text (some other page)', `${BUSY}extra: 1\n`],
    ['a Prometheus /metrics page', '# HELP nginx_up Status of the last metric scrape\n# TYPE nginx_up gauge\nnginx_up 1\n'],
    ['an oversized body', `${BUSY}${' '.repeat(5000)}`],
    ['nginx plus JSON', '{"connections":{"accepted":1,"dropped":0,"active":1,"idle":0}}'],
  ])('rejects %s as MALFORMED', (_name, body) => {
    let error: unknown;
    try {
      parseStubStatus(body);
    } catch (e) {
      error = e;
    }
    expect(isNginxStatusError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'NGINX_STATUS_MALFORMED', retryable: false });
  });
});

describe('stubStatusTarget', () => {
  it('moves credentials into a Basic header and keeps them out of the label', () => {
    const target = stubStatusTarget('http://admin:s%3Acret@127.0.0.1:8080/stub_status');
    expect(target.label).toBe('http://127.0.0.1:8080/stub_status');
    expect(target.url).toBe('http://127.0.0.1:8080/stub_status');
    expect(Buffer.from(target.headers.authorization!.slice('Basic '.length), 'base64').toString()).toBe('admin:s:cret');
  });

  it('refuses non-HTTP URLs', () => {
    expect(() => stubStatusTarget('ftp://127.0.0.1/status')).toThrow(/http/);
    expect(() => stubStatusTarget('not a url')).toThrow(TypeError);
  });
});

describe('fetchStubStatus', () => {
  let server: Server;
  let base: string;
  const seenAuth: (string | undefined)[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seenAuth.push(req.headers.authorization);
      if (req.url === '/stub_status') res.writeHead(200, { 'content-type': 'text/plain' }).end(BUSY);
      else if (req.url === '/garbage') res.writeHead(200).end('hello');
      else if (req.url === '/huge') res.writeHead(200).end('x'.repeat(1_000_000));
      else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end(BUSY), 2_000).unref();
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const read = (path: string, timeoutMs = 2_000) => fetchStubStatus(stubStatusTarget(`${base}${path}`), { timeoutMs });
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error as NginxStatusError,
    );

  it('reads and parses a stub_status page', async () => {
    expect((await read('/stub_status')).connections.active).toBe(291);
  });

  it('sends Basic credentials from the URL', async () => {
    seenAuth.length = 0;
    await fetchStubStatus(stubStatusTarget(`${base.replace('//', '//u:p@')}/stub_status`), { timeoutMs: 2_000 });
    expect(seenAuth).toEqual([`Basic ${Buffer.from('u:p').toString('base64')}`]);
  });

  it('types each failure', async () => {
    expect(await failure(read('/wrong-path'))).toMatchObject({ code: 'NGINX_STATUS_HTTP_STATUS', message: expect.stringContaining('404') });
    expect(await failure(read('/garbage'))).toMatchObject({ code: 'NGINX_STATUS_MALFORMED' });
    expect(await failure(read('/huge'))).toMatchObject({ code: 'NGINX_STATUS_MALFORMED' });
    expect(await failure(read('/slow', 200))).toMatchObject({ code: 'NGINX_STATUS_TIMEOUT', retryable: true });
  });

  it('reports a closed port as UNREACHABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(fetchStubStatus(stubStatusTarget(`http://127.0.0.1:${port}/stub_status`), { timeoutMs: 2_000 }));
    expect(error).toMatchObject({ code: 'NGINX_STATUS_UNREACHABLE', retryable: true });
    expect(error?.message).toContain('ECONNREFUSED');
  });
});
