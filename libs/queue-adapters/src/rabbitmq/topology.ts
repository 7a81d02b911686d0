/**
 * The broker objects one Surge queue consists of, and why they look the way they do.
 *
 * - `<queue>`: a durable **quorum** queue. Quorum queues count deliveries themselves (the
 *   `x-delivery-count` header; `x-acquired-count` on RabbitMQ 4.x), including deliveries whose
 *   consumer died without settling — a count a classic queue cannot give and an adapter cannot keep
 *   (a dead process cannot increment anything). They are also replicated and fsync their log,
 *   which is what "no message lost" needs on a real cluster.
 * - `x-delivery-limit = maxDeliveries - 1`: the broker dead-letters a message that is returned
 *   once more after its last allowed delivery, so a poison message that kills its consumer
 *   every time still ends in the dead-letter queue. (RabbitMQ 4.0 would otherwise apply a default
 *   limit of 20 and *drop* such messages when no DLX is set.)
 * - `<queue>.dlx` (fanout) → `<queue>.dlq` (quorum): the dead-letter route, with the
 *   `at-least-once` dead-letter strategy (which requires `x-overflow: reject-publish`) so a
 *   broker-side dead-lettering is not lost either.
 *
 * Redeclaring an existing queue with other arguments (classic type, another delivery limit) fails
 * with 406 "inequivalent arg"; the client reports that as `QUEUE_INCOMPATIBLE`.
 */
export interface Topology {
  queue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  queueArguments: Record<string, unknown>;
  deadLetterQueueArguments: Record<string, unknown>;
}

export function topologyFor(queue: string, maxDeliveries: number): Topology {
  const deadLetterExchange = `${queue}.dlx`;
  return {
    queue,
    deadLetterExchange,
    deadLetterQueue: `${queue}.dlq`,
    queueArguments: {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': deadLetterExchange,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
      'x-delivery-limit': Math.max(0, maxDeliveries - 1),
    },
    deadLetterQueueArguments: { 'x-queue-type': 'quorum' },
  };
}

/** Headers the adapter writes when it dead-letters a message itself. */
export const DEAD_LETTER_REASON_HEADER = 'x-surge-dead-letter-reason';
export const DEAD_LETTER_DESCRIPTION_HEADER = 'x-surge-dead-letter-description';
export const DEAD_LETTER_DELIVERY_COUNT_HEADER = 'x-surge-delivery-count';

/** Broker and adapter bookkeeping headers: not part of a message's own properties. */
export function isTransportHeader(name: string): boolean {
  return (
    name === 'x-delivery-count' ||
    name === 'x-acquired-count' ||
    name.startsWith('x-death') ||
    name.startsWith('x-first-death') ||
    name.startsWith('x-last-death') ||
    name.startsWith('x-surge-')
  );
}
