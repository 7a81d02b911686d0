export {
  startServiceBusPeer,
  startServiceBusPeerProcess,
  BATCH_MESSAGE_FORMAT,
  type ServiceBusPeer,
  type ServiceBusPeerOptions,
  type ServiceBusPeerProcess,
  type PeerQueueStats,
} from './peer.ts';
export { PeerQueue, StoredMessage, MAX_DELIVERY_COUNT_REASON, type PeerQueueSettings } from './peer-queue.ts';
