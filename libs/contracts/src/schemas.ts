/**
 * The one source of truth for what crosses a boundary: the producer's HTTP body, the message on
 * the queue, and the result a worker stores. Every object schema rejects unknown fields, so a typo
 * cannot silently change a load.
 */
// The builders only, as a namespace esbuild can tree-shake: the root `Type` object also drags in
// TypeBox's TypeScript-syntax parser, which a one-message Job then loads for nothing.
import * as Type from 'typebox/type';
import type { Static } from 'typebox';
import {
  CONTRACT_VERSION,
  MAX_LOAD_COUNT,
  MAX_PAYLOAD_BYTES,
  MAX_RATE_PER_SECOND,
  MAX_WORK_DURATION_MS,
  MIN_RATE_PER_SECOND,
} from './limits.ts';

const strict = { additionalProperties: false } as const;

/** Load ids become blob-name prefixes and URL segments: keep them to a safe alphabet. */
export const LoadId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'letters, digits, . _ - (1-64 chars)' });
export const MessageId = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });

export const WorkSpec = Type.Object(
  {
    /** How long the simulated work takes. */
    durationMs: Type.Integer({ minimum: 0, maximum: MAX_WORK_DURATION_MS }),
    /** `wait` sleeps; `cpu` burns CPU in slices that leave the event loop free for heartbeats and lock renewal. */
    mode: Type.Union([Type.Literal('wait'), Type.Literal('cpu')]),
    /** Probability that processing fails (poison and retry tests); 1 makes every delivery fail. */
    failureProbability: Type.Number({ minimum: 0, maximum: 1 }),
  },
  strict,
);
export type WorkSpec = Static<typeof WorkSpec>;

export const WorkMessage = Type.Object(
  {
    version: Type.Literal(CONTRACT_VERSION),
    id: MessageId,
    loadId: LoadId,
    seq: Type.Integer({ minimum: 0, maximum: MAX_LOAD_COUNT - 1 }),
    createdAt: Timestamp,
    work: WorkSpec,
    filler: Type.Optional(Type.String({ maxLength: MAX_PAYLOAD_BYTES })),
  },
  strict,
);
export type WorkMessage = Static<typeof WorkMessage>;

export const LoadRequest = Type.Object(
  {
    version: Type.Optional(Type.Literal(CONTRACT_VERSION)),
    count: Type.Integer({ minimum: 1, maximum: MAX_LOAD_COUNT }),
    payloadBytes: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PAYLOAD_BYTES })),
    /** Messages per second; absent means as fast as the broker confirms. */
    rate: Type.Optional(Type.Number({ minimum: MIN_RATE_PER_SECOND, maximum: MAX_RATE_PER_SECOND })),
    work: Type.Optional(Type.Partial(WorkSpec, strict)),
    /** A client-chosen id makes the request idempotent. */
    loadId: Type.Optional(LoadId),
  },
  strict,
);
export type LoadRequest = Static<typeof LoadRequest>;

export const LoadState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('running'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type LoadState = Static<typeof LoadState>;

export const LoadStatus = Type.Object(
  {
    version: Type.Literal(CONTRACT_VERSION),
    loadId: LoadId,
    state: LoadState,
    /** Messages the broker confirmed. */
    sent: Type.Integer({ minimum: 0 }),
    /**
     * Messages handed to the broker whose confirm has not arrived (in flight, or lost with the
     * connection): the queue may hold up to `sent + unconfirmed` of this load.
     */
    unconfirmed: Type.Optional(Type.Integer({ minimum: 0 })),
    total: Type.Integer({ minimum: 1, maximum: MAX_LOAD_COUNT }),
    /** Confirmed messages per second over the recent window. */
    rate: Type.Number({ minimum: 0 }),
    requestedRate: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    createdAt: Timestamp,
    startedAt: Type.Optional(Timestamp),
    finishedAt: Type.Optional(Timestamp),
    error: Type.Optional(Type.String()),
  },
  strict,
);
export type LoadStatus = Static<typeof LoadStatus>;

export const WorkerKind = Type.Union([Type.Literal('job'), Type.Literal('deployment')]);
export type WorkerKind = Static<typeof WorkerKind>;

export const WorkResult = Type.Object(
  {
    version: Type.Literal(CONTRACT_VERSION),
    messageId: MessageId,
    loadId: LoadId,
    seq: Type.Integer({ minimum: 0 }),
    worker: Type.Object({ kind: WorkerKind, instance: Type.String({ minLength: 1 }) }, strict),
    deliveryAttempt: Type.Integer({ minimum: 1 }),
    enqueuedAt: Timestamp,
    startedAt: Timestamp,
    finishedAt: Timestamp,
    outcome: Type.Literal('succeeded'),
  },
  strict,
);
export type WorkResult = Static<typeof WorkResult>;
