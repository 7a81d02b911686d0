import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, deliveryLogger, redactUrl } from './index.ts';

function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { logger: createLogger({ name: 'test', destination }), lines };
}

describe('logger', () => {
  it('writes JSON with the delivery bound and secrets redacted', async () => {
    const { logger, lines } = memoryLogger();
    deliveryLogger(logger, { id: 'm-1', queue: 'q' }).info(
      { connectionString: 'Endpoint=sb://x;SharedAccessKey=abc', config: { url: 'amqp://u:p@h' } },
      'hello',
    );
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ app: 'test', messageId: 'm-1', queue: 'q', msg: 'hello', level: 'info' });
    expect(JSON.stringify(lines[0])).not.toContain('abc');
    expect(JSON.stringify(lines[0])).not.toContain('u:p');
  });

  it('redacts credentials in URLs', () => {
    expect(redactUrl('amqp://guest:secret@127.0.0.1:5672/')).toBe('amqp://***:***@127.0.0.1:5672/');
    expect(redactUrl('http://127.0.0.1:15672')).toBe('http://127.0.0.1:15672/');
  });
});
