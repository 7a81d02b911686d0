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
  const [active, accepted, handled, requests, reading, writing, waiting] = match.slice(1, 8).map(Number) as [number, number, number, number, number, number, number];
  return { connections: { active, accepted, handled, reading, writing, waiting }, requests };
}

export interface FetchStubStatusOptions {
  /** Bound on the whole read (connect, headers, body). */
  timeoutMs: number;
  /** Aborts the read early (the exporter is closing). */
  signal?: AbortSignal;
}

/**
 * A parsed status URL, prepared once: fetch refuses URLs with credentials, so `user:pass@` moves into
 * a Basic `Authorization` header, and `label` is the URL without them (safe for labels and logs).
 */
export interface StubStatusTarget {
  readonly url: string;
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
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
  return { url: url.toString(), label: url.toString(), headers };
}

/** Reads and parses one stub_status page; every failure is a typed NginxStatusError. */
export async function fetchStubStatus(target: StubStatusTarget, options: FetchStubStatusOptions): Promise<StubStatus> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let body: string;
  try {
    const response = await fetch(target.url, { headers: target.headers, signal });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new NginxStatusError('HTTP_STATUS', `${target.label} answered HTTP ${response.status}, expected 200 (is this the stub_status location?)`);
    }
    body = await readCapped(response, MAX_STUB_STATUS_BYTES + 1);
  } catch (error) {
    if (error instanceof NginxStatusError) throw error;
    if (timeout.aborted) throw new NginxStatusError('TIMEOUT', `${target.label} did not answer within ${options.timeoutMs} ms`, { cause: error });
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new NginxStatusError('UNREACHABLE', `${target.label} is unreachable${cause?.code ? ` (${cause.code})` : ''}`, { cause: error });
  }
  return parseStubStatus(body);
}

/** Reads at most `limit` bytes, so a wrong URL pointing at a large page costs nothing. */
async function readCapped(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= limit) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}
