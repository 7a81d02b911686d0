/**
 * The OpenTelemetry side of MessagingTracer, loaded only when tracing is on. Span names, kinds and
 * attributes follow the OpenTelemetry messaging semantic conventions (send/create/receive/process).
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace';
import type { MessagingTracer, Tracing, TracingOptions, TracedDelivery } from './types.ts';

const getter = {
  keys: (carrier: Readonly<Record<string, string>>) => Object.keys(carrier),
  get: (carrier: Readonly<Record<string, string>>, key: string) => carrier[key],
};

export async function startOpenTelemetry(options: TracingOptions): Promise<Tracing> {
  const exporter =
    (options.spanExporter as SpanExporter | undefined) ??
    new OTLPTraceExporter({ url: `${options.endpoint!.replace(/\/$/, '')}/v1/traces` });
  // Tests read spans right away; a real exporter batches.
  const processor = options.spanExporter ? new SimpleSpanProcessor({ exporter }) : new BatchSpanProcessor({ exporter });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': options.serviceName }),
    // No host/process detectors: they cost start-up time and add nothing a pod label does not say.
    resourceDetectors: [],
    spanProcessors: [processor],
    textMapPropagator: new W3CTraceContextPropagator(),
    instrumentations: [],
  });
  sdk.start();
  const tracer = trace.getTracer('surge');
  const base: Attributes = { 'messaging.system': options.system };

  async function inSpan<T>(span: Span, ctx: Context, work: () => Promise<T>): Promise<T> {
    try {
      return await context.with(trace.setSpan(ctx, span), work);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  }

  const messaging: MessagingTracer = {
    enabled: true,
    send(queue, messages, send) {
      const parent = context.active();
      const batch = tracer.startSpan(
        `send ${queue}`,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            ...base,
            'messaging.operation.type': 'send',
            'messaging.operation.name': 'send',
            'messaging.destination.name': queue,
            'messaging.batch.message_count': messages.length,
          },
        },
        parent,
      );
      const batchContext = trace.setSpan(parent, batch);
      const carriers = new Map<string, Record<string, string>>();
      for (const message of messages) {
        const create = tracer.startSpan(
          `create ${queue}`,
          {
            kind: SpanKind.PRODUCER,
            attributes: {
              ...base,
              'messaging.operation.type': 'create',
              'messaging.operation.name': 'create',
              'messaging.destination.name': queue,
              'messaging.message.id': message.id,
            },
          },
          batchContext,
        );
        const carrier: Record<string, string> = {};
        propagation.inject(trace.setSpan(batchContext, create), carrier);
        carriers.set(message.id, carrier);
        create.end();
      }
      return inSpan(batch, parent, () => send((id) => carriers.get(id) ?? {}));
    },
    receive(queue, receive) {
      const span = tracer.startSpan(`receive ${queue}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          ...base,
          'messaging.operation.type': 'receive',
          'messaging.operation.name': 'receive',
          'messaging.destination.name': queue,
        },
      });
      return inSpan(span, context.active(), receive);
    },
    process(delivery: TracedDelivery, work) {
      const producer = propagation.extract(context.active(), delivery.properties, getter);
      const producerSpan = trace.getSpanContext(producer);
      // Parent on the producer's create span (one trace per message), and link to it as the conventions ask.
      const span = tracer.startSpan(
        `process ${delivery.queue}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            ...base,
            'messaging.operation.type': 'process',
            'messaging.operation.name': 'process',
            'messaging.destination.name': delivery.queue,
            'messaging.message.id': delivery.id,
            'messaging.message.delivery_count': delivery.deliveryCount,
          },
          links: producerSpan ? [{ context: producerSpan }] : [],
        },
        producer,
      );
      return inSpan(span, producer, work);
    },
    logFields(): Record<string, string> {
      const span = trace.getSpan(context.active())?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
  };

  return {
    tracer: messaging,
    flush: () => processor.forceFlush(),
    shutdown: async () => {
      await sdk.shutdown();
    },
  };
}
