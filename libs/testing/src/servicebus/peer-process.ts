/**
 * The peer in a process of its own: started by `startServiceBusPeerProcess`, options as JSON in
 * SURGE_SB_PEER_OPTIONS. Talks to its parent over IPC and exits when the parent goes away, so a
 * crashed test run never leaves it behind.
 */
import { startServiceBusPeer, type ServiceBusPeerOptions } from './peer.ts';

interface Request {
  id: number;
  op: 'stats' | 'close';
  queue?: string;
}

const options = JSON.parse(process.env['SURGE_SB_PEER_OPTIONS'] ?? '{}') as ServiceBusPeerOptions;
const peer = await startServiceBusPeer(options);
let closing = false;

async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await peer.close();
  process.disconnect?.();
  process.exit(0);
}

process.on('disconnect', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
process.on('message', (request: Request) => {
  if (request.op === 'close') {
    process.send?.({ id: request.id, ok: true });
    void shutdown();
    return;
  }
  const queue = peer.queue(request.queue ?? '');
  process.send?.({
    id: request.id,
    stats: { active: queue.activeCount, available: queue.availableCount, locked: queue.lockedCount, deadLettered: queue.deadLetterCount },
  });
});
process.send?.({ ready: true, port: peer.port });
