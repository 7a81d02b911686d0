/**
 * Queue depth from the RabbitMQ management HTTP API: `messages_ready + messages_unacknowledged`,
 * the number KEDA's `rabbitmq` trigger reads with `protocol: http`. (A passive declare over AMQP
 * returns ready messages only, which makes an autoscaler scale in while work is still being done.)
 *
 * The statistics behind it are sampled by the broker (`collect_statistics_interval`, 5 s by
 * default), so a read can lag the queue by that much — as it does for KEDA.
 *
 * Plain `node:http` with no keep-alive: reads are rare, and a pooled socket must never keep a
 * one-shot worker's process alive after `close()`. Loaded on the first read, not with the adapter:
 * an ESM import of `node:http` also loads its bundled fetch stack (~13 ms), a one-message job's
 * start-up pays for that and never reads depth.
 */
import type * as Http from 'node:http';
import { QueueError } from '../errors.ts';

/**
 * The answer to one queue's two-column query is well under 100 bytes; a few KiB leave room for a
 * proxy's or a newer broker's extra fields. Anything larger is not that answer, and reading it whole
 * would let a wrong or hostile endpoint grow the process's memory by the size of what it sends.
 */
export const MAX_MANAGEMENT_ANSWER_BYTES = 16 * 1024;

/** A count the broker reports: a non-negative integer that survives JSON and arithmetic (≤ 2^53 − 1). */
function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export interface QueueStats {
  ready: number;
  unacknowledged: number;
}

export class ManagementApi {
  private readonly base: URL;
  private readonly authorization: string | undefined;
  private readonly vhost: string;
  private readonly timeoutMs: number;

  constructor(managementUrl: string, amqpUrl: string, timeoutMs = 5000) {
    const url = new URL(managementUrl);
    this.authorization = url.username
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`
      : undefined;
    url.username = '';
    url.password = '';
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    this.base = url;
    this.vhost = vhostOf(amqpUrl);
    this.timeoutMs = timeoutMs;
  }

  /** The management host, safe to log. */
  get host(): string {
    return this.base.host;
  }

  async queueStats(queue: string): Promise<QueueStats> {
    // The vhost is a path segment: `/` must travel as %2F (keda#790).
    const path = `api/queues/${encodeURIComponent(this.vhost)}/${encodeURIComponent(queue)}?columns=messages_ready,messages_unacknowledged`;
    const { status, body } = await this.get(path, queue);
    if (status === 404) throw new QueueError('NOT_FOUND', `management API: queue ${queue} not found in vhost ${this.vhost}`, { queue });
    if (status === 401 || status === 403)
      throw new QueueError('AUTH_FAILED', `management API refused the credentials (HTTP ${status}); the user needs the monitoring tag`, {
        queue,
      });
    if (status < 200 || status > 299) throw new QueueError('UNAVAILABLE', `management API answered HTTP ${status}`, { queue });
    let parsed: { messages_ready?: unknown; messages_unacknowledged?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new QueueError('DEPTH_INVALID', `management API answer for queue ${queue} is not JSON`, { queue });
    }
    if (typeof parsed !== 'object' || parsed === null)
      throw new QueueError('DEPTH_INVALID', `management API answer for queue ${queue} is not an object`, { queue });
    // A queue not sampled yet (just declared, or the node just restarted) has no counters. Reading
    // that as 0 would let KEDA scale in on a full queue: report "unknown" (retryable) instead.
    if (parsed.messages_ready === undefined || parsed.messages_unacknowledged === undefined) {
      throw new QueueError('UNAVAILABLE', `management API has no statistics for queue ${queue} yet`, { queue });
    }
    // A negative, fractional or astronomically large count is no count: an autoscaler would act on it.
    if (!isCount(parsed.messages_ready) || !isCount(parsed.messages_unacknowledged)) {
      throw new QueueError(
        'DEPTH_INVALID',
        `management API reported counts for queue ${queue} that are not non-negative integers up to 2^53 - 1`,
        { queue },
      );
    }
    return { ready: parsed.messages_ready, unacknowledged: parsed.messages_unacknowledged };
  }

  private get(path: string, queue: string): Promise<{ status: number; body: string }> {
    const url = new URL(path, this.base);
    const client = process.getBuiltinModule(url.protocol === 'https:' ? 'node:https' : 'node:http') as Pick<typeof Http, 'request'>;
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: 'GET',
          agent: false,
          headers: { accept: 'application/json', ...(this.authorization ? { authorization: this.authorization } : {}) },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          // Only a 2xx body is read; the status says all there is to say about the rest (a proxy's large error page included).
          if (status < 200 || status > 299) {
            response.resume();
            response.on('end', () => resolve({ status, body: '' }));
            response.on('error', (cause) =>
              reject(new QueueError('UNAVAILABLE', `management API read failed: ${cause.message}`, { queue, cause })),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_MANAGEMENT_ANSWER_BYTES) {
              // Stop reading at the cap: the rest of the answer is never buffered.
              reject(
                new QueueError('DEPTH_INVALID', `management API answer for queue ${queue} exceeds ${MAX_MANAGEMENT_ANSWER_BYTES} bytes`, {
                  queue,
                }),
              );
              request.destroy();
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', (cause) =>
            reject(
              cause instanceof QueueError
                ? cause
                : new QueueError('UNAVAILABLE', `management API read failed: ${cause.message}`, { queue, cause }),
            ),
          );
        },
      );
      request.setTimeout(this.timeoutMs, () =>
        request.destroy(new QueueError('TIMEOUT', `management API did not answer within ${this.timeoutMs} ms`, { queue })),
      );
      request.on('error', (cause) =>
        reject(
          cause instanceof QueueError
            ? cause
            : new QueueError('UNAVAILABLE', `management API at ${this.base.host} unreachable: ${cause.message}`, { queue, cause }),
        ),
      );
      request.end();
    });
  }
}

/** The vhost of an AMQP URL: the path without its leading slash, `/` when empty. */
export function vhostOf(amqpUrl: string): string {
  const path = new URL(amqpUrl).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}
