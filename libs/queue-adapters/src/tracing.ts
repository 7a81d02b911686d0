/**
 * Tracing as a decorator over any backend: `send` gets a send span per batch and a create span per
 * message whose W3C context travels in the message's transport properties; `receive` gets a receive
 * span. Process spans belong to the code that does the work (it knows when the work ends). With the
 * no-op tracer the client is returned as it is: tracing off costs nothing.
 */
import type { MessagingTracer } from '@surge/telemetry';
import type { QueueClient } from './types.ts';

export function traceQueueClient(client: QueueClient, tracer: MessagingTracer): QueueClient {
  if (!tracer.enabled) return client;
  return {
    kind: client.kind,
    queue: client.queue,
    send: (messages) =>
      tracer.send(client.queue, messages, (propertiesFor) =>
        client.send(messages.map((message) => ({ ...message, properties: { ...message.properties, ...propertiesFor(message.id) } }))),
      ),
    receive: (max, waitMs) => tracer.receive(client.queue, () => client.receive(max, waitMs)),
    consume: (handler, options) => client.consume(handler, options),
    depth: () => client.depth(),
    peekDeadLetters: (max) => client.peekDeadLetters(max),
    ping: () => client.ping(),
    close: () => client.close(),
  };
}
