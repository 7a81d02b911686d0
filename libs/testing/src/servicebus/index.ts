export { startServiceBusPeer, BATCH_MESSAGE_FORMAT, type ServiceBusPeer, type ServiceBusPeerOptions } from './peer.ts';
export { PeerQueue, MAX_DELIVERY_COUNT_REASON, type PeerQueueSettings, type StoredMessage } from './peer-queue.ts';
