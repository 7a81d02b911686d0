import { describe, expect, it } from 'vitest';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { noopTracer, startTracing } from '../index.ts';

describe('tracing', () => {
  it('is a no-op without an endpoint', async () => {
    const { tracer } = await startTracing({ serviceName: 's', system: 'embedded' });
    expect(tracer).toBe(noopTracer);
    expect(await tracer.send('q', [{ id: 'a' }], async (propertiesFor) => propertiesFor('a'))).toEqual({});
  });

  it('connects the producer and consumer spans of one message in one trace', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing({ serviceName: 's', system: 'rabbitmq', spanExporter: exporter });
    const properties = await tracing.tracer.send('q', [{ id: 'm1' }], async (propertiesFor) => propertiesFor('m1'));
    expect(properties['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    let logged: Record<string, string> = {};
    await tracing.tracer.process({ id: 'm1', queue: 'q', properties, deliveryCount: 1 }, async () => {
      logged = tracing.tracer.logFields();
    });
    // InMemorySpanExporter forgets its spans on shutdown: flush, read, then shut down.
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    await tracing.shutdown();
    const create = spans.find((s) => s.name === 'create q')!;
    const process = spans.find((s) => s.name === 'process q')!;
    expect(spans.map((s) => s.name).sort()).toEqual(['create q', 'process q', 'send q']);
    expect(process.spanContext().traceId).toBe(create.spanContext().traceId);
    expect(process.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
    expect(process.links[0]?.context.spanId).toBe(create.spanContext().spanId);
    expect(process.attributes['messaging.message.id']).toBe('m1');
    expect(process.attributes['messaging.system']).toBe('rabbitmq');
    expect(logged).toEqual({ trace_id: process.spanContext().traceId, span_id: process.spanContext().spanId });
  });
});
