import type { Channel } from 'amqplib';

/** Removes what a bench declared on the broker: each queue, its `.dlq` and its `.dlx` exchange. */
export async function deleteBenchQueues(admin: Channel, queues: Iterable<string>): Promise<void> {
  for (const queue of queues) {
    for (const q of [queue, `${queue}.dlq`]) await admin.deleteQueue(q).catch(() => undefined);
    await admin.deleteExchange(`${queue}.dlx`).catch(() => undefined);
  }
}
