import { describe, expect, it } from 'vitest';
import { ConfigError, readBoolean, readEnum, readInteger, readUrl } from './index.ts';

describe('env readers', () => {
  it('names the variable and the expected form in one line', () => {
    expect(() => readEnum({ QUEUE_KIND: 'kafka' }, 'QUEUE_KIND', ['embedded', 'rabbitmq'])).toThrow(
      'QUEUE_KIND: expected one of embedded, rabbitmq, got "kafka"',
    );
    expect(() => readInteger({ N: '1.5' }, 'N', { min: 1, max: 10 })).toThrow(ConfigError);
    expect(() => readInteger({ N: '11' }, 'N', { min: 1, max: 10 })).toThrow('N: expected an integer from 1 to 10, got 11');
    expect(readInteger({}, 'N', { fallback: 3 })).toBe(3);
    expect(readBoolean({ B: 'yes' }, 'B', false)).toBe(true);
    expect(() => readBoolean({ B: 'maybe' }, 'B', false)).toThrow('B: expected true or false');
  });

  it('never echoes a URL that may hold credentials', () => {
    try {
      readUrl({ RABBITMQ_URL: 'http://user:secret@host' }, 'RABBITMQ_URL', ['amqp:', 'amqps:']);
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).message).toContain('RABBITMQ_URL');
    }
    expect(readUrl({ U: 'amqp://a:b@localhost:5672/' }, 'U', ['amqp:']).hostname).toBe('localhost');
  });
});
