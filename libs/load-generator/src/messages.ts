import { randomUUID } from 'node:crypto';
import { CONTRACT_VERSION, DEFAULT_WORK, encodeWorkMessage, type LoadRequest, type WorkMessage, type WorkSpec } from '@surge/contracts';
import type { OutgoingMessage } from '@surge/queue-adapters';

/**
 * Transport properties for a message (W3C `traceparent`/`tracestate` once tracing is on). The body
 * never carries trace context; this hook is where the tracing issue plugs in.
 */
export type PropertiesFor = (message: WorkMessage) => Readonly<Record<string, string>> | undefined;

export const noProperties: PropertiesFor = () => undefined;

/** Keeps one batch's bodies to a few MiB whatever the payload size, so memory stays flat. */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** JSON envelope around the filler (ids, timestamps, work), rounded up. */
const ENVELOPE_BYTES = 400;

/** What every message of one load shares; messages themselves are built only when their batch is sent. */
export interface MessagePlan {
  loadId: string;
  count: number;
  work: WorkSpec;
  /** One string shared by every message of the load (never copied per message). */
  filler: string | undefined;
}

export function planMessages(loadId: string, request: LoadRequest): MessagePlan {
  const bytes = request.payloadBytes ?? 0;
  return {
    loadId,
    count: request.count,
    work: { ...DEFAULT_WORK, ...request.work },
    filler: bytes > 0 ? 'x'.repeat(bytes) : undefined,
  };
}

export function buildMessage(plan: MessagePlan, seq: number, now: Date = new Date()): WorkMessage {
  const message: WorkMessage = {
    version: CONTRACT_VERSION,
    id: randomUUID(),
    loadId: plan.loadId,
    seq,
    createdAt: now.toISOString(),
    work: plan.work,
  };
  if (plan.filler !== undefined) message.filler = plan.filler;
  return message;
}

/** Messages `from` … `from + size - 1`, encoded for the queue, with the message id as transport id. */
export function buildBatch(plan: MessagePlan, from: number, size: number, propertiesFor: PropertiesFor): OutgoingMessage[] {
  const now = new Date();
  const batch: OutgoingMessage[] = [];
  for (let seq = from; seq < from + size && seq < plan.count; seq++) {
    const message = buildMessage(plan, seq, now);
    const properties = propertiesFor(message);
    batch.push(
      properties === undefined
        ? { id: message.id, body: encodeWorkMessage(message) }
        : { id: message.id, body: encodeWorkMessage(message), properties },
    );
  }
  return batch;
}

/**
 * What one message of this payload size costs on the queue, rounded up: the filler plus the JSON
 * envelope. Used for the byte budget of a load and the free-space check before it starts.
 */
export function messageBytes(payloadBytes: number): number {
  return payloadBytes + ENVELOPE_BYTES;
}

/** The bytes a whole load puts on the queue (an upper estimate). */
export function loadBytes(request: Pick<LoadRequest, 'count' | 'payloadBytes'>): number {
  return request.count * messageBytes(request.payloadBytes ?? 0);
}

/** The largest batch that keeps to MAX_BATCH_BYTES for this payload size. */
export function batchSizeForPayload(batchSize: number, payloadBytes: number): number {
  return Math.max(1, Math.min(batchSize, Math.floor(MAX_BATCH_BYTES / (payloadBytes + ENVELOPE_BYTES))));
}
