/**
 * amqplib and the broker report failures as plain Errors with a numeric AMQP reply `code` or a
 * socket `code`; this turns them into QueueErrors with a stable code and the right retryable flag.
 */
import { QueueError, type QueueErrorKind } from '../errors.ts';

export function toQueueError(error: unknown, what: string, queue: string): QueueError {
  if (error instanceof QueueError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  return new QueueError(classify(code, message), `${what}: ${oneLine(message)}`, { queue, cause: error });
}

function classify(code: unknown, message: string): QueueErrorKind {
  if (code === 403 || /ACCESS[-_]REFUSED|ACCESS_REFUSED|authentication failure|PLAIN login refused/i.test(message)) return 'AUTH_FAILED';
  if (/vhost .* not found|NOT_ALLOWED/i.test(message)) return 'NOT_FOUND';
  if (/inequivalent arg/i.test(message)) return 'INCOMPATIBLE';
  if (/message size .* larger than|max_message_size|frame too large/i.test(message)) return 'MESSAGE_TOO_LARGE';
  if (code === 404 || /NOT_FOUND - no (queue|exchange)/i.test(message)) return 'NOT_FOUND';
  if (code === 'ETIMEDOUT' || /timed? ?out/i.test(message)) return 'TIMEOUT';
  if (
    typeof code === 'string' ||
    code === 320 /* connection-forced: broker shutting down */ ||
    code === 541 /* internal-error */ ||
    /connection closed|channel closed|socket|ECONN|EPIPE|heartbeat/i.test(message)
  ) {
    return 'UNAVAILABLE';
  }
  return 'INTERNAL';
}

function oneLine(message: string): string {
  return message.split('\n')[0]!.slice(0, 500);
}

/** `amqp://user:pass@host:5672/vhost` → `host:5672`: the only part of a broker address that is ever logged. */
export function brokerHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(unparseable url)';
  }
}
