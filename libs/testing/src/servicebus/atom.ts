/**
 * The one ATOM management request the peer answers: `GET /<queue>?api-version=…`, as sent by
 * `ServiceBusAdministrationClient.getQueue` / `getQueueRuntimeProperties`. The entry carries both the
 * queue description and its runtime counts (`CountDetails`), as the real service's does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PeerQueue } from './peer-queue.ts';

function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** ISO 8601 duration as the service writes it (PT30S, PT1M0.5S is never needed: whole milliseconds as seconds). */
function isoDuration(ms: number): string {
  return `PT${(ms / 1000).toString()}S`;
}

export function queueEntryXml(queue: PeerQueue, url: string): string {
  const now = new Date().toISOString();
  const name = xmlEscape(queue.name);
  return `<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom">
  <id>${xmlEscape(url)}</id>
  <title type="text">${name}</title>
  <published>${queue.createdAt.toISOString()}</published>
  <updated>${now}</updated>
  <author><name>surge-servicebus-peer</name></author>
  <link rel="self" href="${xmlEscape(url)}"/>
  <content type="application/xml">
    <QueueDescription xmlns="http://schemas.microsoft.com/netservices/2010/10/servicebus/connect" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <LockDuration>${isoDuration(queue.settings.lockDurationMs)}</LockDuration>
      <MaxSizeInMegabytes>1024</MaxSizeInMegabytes>
      <RequiresDuplicateDetection>false</RequiresDuplicateDetection>
      <RequiresSession>false</RequiresSession>
      <DefaultMessageTimeToLive>P10675199DT2H48M5.4775807S</DefaultMessageTimeToLive>
      <DeadLetteringOnMessageExpiration>false</DeadLetteringOnMessageExpiration>
      <DuplicateDetectionHistoryTimeWindow>PT10M</DuplicateDetectionHistoryTimeWindow>
      <MaxDeliveryCount>${queue.settings.maxDeliveryCount}</MaxDeliveryCount>
      <EnableBatchedOperations>true</EnableBatchedOperations>
      <SizeInBytes>0</SizeInBytes>
      <MessageCount>${queue.activeCount + queue.deadLetterCount}</MessageCount>
      <IsAnonymousAccessible>false</IsAnonymousAccessible>
      <Status>Active</Status>
      <CreatedAt>${queue.createdAt.toISOString()}</CreatedAt>
      <UpdatedAt>${queue.updatedAt.toISOString()}</UpdatedAt>
      <AccessedAt>${queue.accessedAt.toISOString()}</AccessedAt>
      <SupportOrdering>true</SupportOrdering>
      <CountDetails xmlns:d2p1="http://schemas.microsoft.com/netservices/2011/06/servicebus">
        <d2p1:ActiveMessageCount>${queue.activeCount}</d2p1:ActiveMessageCount>
        <d2p1:DeadLetterMessageCount>${queue.deadLetterCount}</d2p1:DeadLetterMessageCount>
        <d2p1:ScheduledMessageCount>0</d2p1:ScheduledMessageCount>
        <d2p1:TransferMessageCount>0</d2p1:TransferMessageCount>
        <d2p1:TransferDeadLetterMessageCount>0</d2p1:TransferDeadLetterMessageCount>
      </CountDetails>
      <AutoDeleteOnIdle>P10675199DT2H48M5.4775807S</AutoDeleteOnIdle>
      <EnablePartitioning>false</EnablePartitioning>
      <EntityAvailabilityStatus>Available</EntityAvailabilityStatus>
      <EnableExpress>false</EnableExpress>
    </QueueDescription>
  </content>
</entry>`;
}

/**
 * Serves `GET /<queue>` with the queue's entry. Anything else is 404 with an empty feed-less body,
 * which the SDK reports as an error: the peer does not create or list entities over ATOM.
 */
export function handleAtomRequest(
  request: IncomingMessage,
  response: ServerResponse,
  resolveQueue: (name: string) => PeerQueue | undefined,
  authorize: () => boolean,
): void {
  const url = new URL(request.url ?? '/', 'http://peer');
  const name = decodeURIComponent(url.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  request.resume();
  if (!authorize()) {
    response
      .writeHead(401, { 'content-type': 'application/xml' })
      .end('<Error><Code>401</Code><Detail>Unauthorized (surge peer)</Detail></Error>');
    return;
  }
  const queue = request.method === 'GET' && name && !name.startsWith('$') ? resolveQueue(name) : undefined;
  if (!queue) {
    response
      .writeHead(404, { 'content-type': 'application/xml' })
      .end(
        `<Error><Code>404</Code><Detail>Not modelled by the surge Service Bus peer: ${xmlEscape(request.method ?? '')} ${xmlEscape(url.pathname)}</Detail></Error>`,
      );
    return;
  }
  const body = queueEntryXml(
    queue,
    `https://${request.headers.host ?? 'peer'}${url.pathname}?api-version=${url.searchParams.get('api-version') ?? ''}`,
  );
  response
    .writeHead(200, { 'content-type': 'application/atom+xml;type=entry;charset=utf-8', 'content-length': Buffer.byteLength(body) })
    .end(body);
}
