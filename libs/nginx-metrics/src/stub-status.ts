/**
 * The nginx `stub_status` page: a pure parser and a small HTTP client. No Prometheus here (the
 * collector turns readings into series), so both are tested on their own.
 *
 * The page nginx writes (ngx_http_stub_status_module), every line ending in a space:
 *
 *   Active connections: 291
 *   server accepts handled requests
 *    16630948 16630948 31070465
 *   Reading: 6 Writing: 179 Waiting: 106
 */
import http from 'node:http';
import https from 'node:https';
import { NginxStatusError } from './errors.ts';

export interface StubStatus {
  connections: {
    /** Open client connections, including idle (waiting) ones. */
    active: number;
    /** Connections accepted since nginx started (counter). */
    accepted: number;
    /** Connections handled: equals accepted unless a resource limit (worker_connections) was hit (counter). */
    handled: number;
    /** Connections where nginx is reading the request header. */
    reading: number;
    /** Connections where nginx is writing the response. */
    writing: number;
    /** Idle keep-alive connections. */
    waiting: number;
  };
  /** Client requests since nginx started (counter). */
  requests: number;
}

// Horizontal whitespace only between fields, a line break between lines; CRLF is tolerated (a proxy
// in front of nginx may rewrite it). Anything else, including trailing text, is not stub_status.
const STUB_STATUS = new RegExp(
  [
    '^[ \\t]*Active connections:[ \\t]*(\\d{1,20})[ \\t]*\\r?\\n',
    '[ \\t]*server accepts handled requests[ \\t]*\\r?\\n',
    '[ \\t]*(\\d{1,20})[ \\t]+(\\d{1,20})[ \\t]+(\\d{1,20})[ \\t]*\\r?\\n',
    '[ \\t]*Reading:[ \\t]*(\\d{1,20})[ \\t]+Writing:[ \\t]*(\\d{1,20})[ \\t]+Waiting:[ \\t]*(\\d{1,20})[ \\t]*(?:\\r?\\n)?\\s*$',
  ].join(''),
);

/** A stub_status page is about 110 bytes; anything much larger is some other page. */
export const MAX_STUB_STATUS_BYTES = 4096;

export function parseStubStatus(body: string): StubStatus {
  if (body.length > MAX_STUB_STATUS_BYTES) throw new NginxStatusError('MALFORMED', `not a stub_status page: ${body.length} characters`);
  const match = STUB_STATUS.exec(body);
  if (!match) throw new NginxStatusError('MALFORMED', `not a stub_status page: ${JSON.stringify(body.slice(0, 80))}`);
  const [active, accepted, handled, requests, reading, writing, waiting] = match.slice(1, 8).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { connections: { active, accepted, handled, reading, writing, waiting }, requests };
}

export interface FetchStubStatusOptions {
  /** Bound on the whole read (connect, headers, body). */
  timeoutMs: number;
  /** Aborts the read early (the exporter is closing). */
  signal?: AbortSignal;
}

/**
 * A parsed status URL, prepared once: `user:pass@` moves into a Basic `Authorization` header, `label`
 * is the URL without credentials (safe for labels and logs), and `agent` keeps one connection to
 * nginx open between reads, as nginx-prometheus-exporter's Go client does.
 */
export interface StubStatusTarget {
  readonly url: string;
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly agent: http.Agent;
}

/**
 * The status URL as it appears in `addr` labels and logs: parsed (so `HTTP://Host:80/x` and
 * `http://host/x` are one URL) and without `user:pass@`. Two configured URLs with the same label read
 * the same page and would write the same series, so a collector refuses them.
 */
export function stubStatusLabel(address: string): string {
  const url = new URL(address);
  url.username = '';
  url.password = '';
  return url.toString();
}

export function stubStatusTarget(address: string): StubStatusTarget {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new TypeError('nginx status URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`nginx status URL must be http(s), got ${url.protocol}`);
  const headers: Record<string, string> = { accept: 'text/plain', 'user-agent': 'surge-exporter' };
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // Reads of one target are single-flighted by the collector: two sockets cover a read that overlaps a slow one.
  const agentOptions = { keepAlive: true, maxSockets: 2, maxFreeSockets: 1, timeout: 60_000 };
  const agent = url.protocol === 'https:' ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  return { url: url.toString(), label: url.toString(), headers, agent };
}

/**
 * Reads and parses one stub_status page; every failure is a typed NginxStatusError. Plain node:http
 * rather than fetch: at scrape-storm rates fetch's web streams cost several times more CPU. Redirects
 * are not followed (a redirect is reported as HTTP_STATUS: point the URL at the stub_status location).
 */
export function fetchStubStatus(target: StubStatusTarget, options: FetchStubStatusOptions): Promise<StubStatus> {
  return new Promise<string>((resolve, reject) => {
    const client = target.url.startsWith('https:') ? https : http;
    const request = client.request(
      target.url,
      { method: 'GET', agent: target.agent, headers: target.headers, signal: options.signal },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(
            new NginxStatusError(
              'HTTP_STATUS',
              `${target.label} answered HTTP ${response.statusCode}, expected 200 (is this the stub_status location?)`,
            ),
          );
          return;
        }
        // Reads at most a little over a stub_status page, so a wrong URL pointing at a large page costs nothing.
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size > MAX_STUB_STATUS_BYTES) {
            resolve(Buffer.concat(chunks).toString('utf8'));
            request.destroy();
          }
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', (cause) => reject(unreachable(target, cause)));
      },
    );
    const timer = setTimeout(
      () => request.destroy(new NginxStatusError('TIMEOUT', `${target.label} did not answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    timer.unref();
    request.on('close', () => clearTimeout(timer));
    request.on('error', (cause) => reject(cause instanceof NginxStatusError ? cause : unreachable(target, cause)));
    request.end();
  }).then(parseStubStatus);
}

function unreachable(target: StubStatusTarget, cause: unknown): NginxStatusError {
  const code = (cause as { code?: string }).code;
  return new NginxStatusError('UNREACHABLE', `${target.label} is unreachable${code ? ` (${code})` : ''}`, { cause });
}
