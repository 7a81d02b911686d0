import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createNginxCollector, type StubStatusReader } from './collector.ts';
import { NginxStatusError } from './errors.ts';
import type { StubStatus } from './stub-status.ts';

const stats = (active: number, requests = 100): StubStatus => ({
  connections: { active, accepted: 50, handled: 49, reading: 1, writing: 2, waiting: active - 3 },
  requests,
});

/** A reader whose answers the test sets per URL, counting calls. */
function scriptedReader() {
  const answers = new Map<string, StubStatus | Error>();
  const calls: string[] = [];
  const read: StubStatusReader = async (target) => {
    calls.push(target.url);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const answer = answers.get(target.url);
    if (answer === undefined || answer instanceof Error) throw answer ?? new NginxStatusError('UNREACHABLE', 'no answer');
    return answer;
  };
  return { answers, calls, read };
}

const A = 'http://127.0.0.1:8080/stub_status';
const B = 'http://127.0.0.1:8081/stub_status';

describe('createNginxCollector', () => {
  it('refuses two targets that are one page once credentials are removed (they would share one nginx_up series)', () => {
    const registry = new Registry();
    expect(() => createNginxCollector({ registry, targets: ['http://u:p@127.0.0.1:8080/stub_status', A] })).toThrow(
      /listed more than once/,
    );
    expect(() => createNginxCollector({ registry, targets: ['http://u:s3cret@127.0.0.1:8080/stub_status', A] })).not.toThrow(/s3cret/);
    expect(() => createNginxCollector({ registry, targets: ['HTTP://127.0.0.1:8080/stub_status', A] })).toThrow(/listed more than once/);
  });

  it('exposes nginx-prometheus-exporter names, types and help', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    reader.answers.set(A, stats(7, 1234));
    createNginxCollector({ registry, targets: [A], read: reader.read });
    const text = await registry.metrics();
    const expected: [string, string, string, number][] = [
      ['nginx_up', 'gauge', 'Status of the last metric scrape', 1],
      ['nginx_connections_active', 'gauge', 'Active client connections', 7],
      ['nginx_connections_accepted', 'counter', 'Accepted client connections', 50],
      ['nginx_connections_handled', 'counter', 'Handled client connections', 49],
      ['nginx_connections_reading', 'gauge', 'Connections where NGINX is reading the request header', 1],
      ['nginx_connections_writing', 'gauge', 'Connections where NGINX is writing the response back to the client', 2],
      ['nginx_connections_waiting', 'gauge', 'Idle client connections', 4],
      ['nginx_http_requests_total', 'counter', 'Total http requests', 1234],
    ];
    for (const [name, type, help, value] of expected) {
      expect(text).toContain(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`);
    }
    // Nothing but these eight metrics on the collector's part of the registry.
    expect(text.match(/^# TYPE /gm)).toHaveLength(8);
  });

  it('reads at scrape time: counters follow nginx, including a restart that lowers them', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    createNginxCollector({ registry, targets: [A], read: reader.read });
    reader.answers.set(A, stats(5, 1000));
    expect(await registry.metrics()).toContain('nginx_http_requests_total 1000\n');
    reader.answers.set(A, stats(6, 3));
    const text = await registry.metrics();
    expect(text).toContain('nginx_http_requests_total 3\n');
    expect(text).toContain('nginx_connections_active 6\n');
    expect(reader.calls).toHaveLength(2);
  });

  it('on a failed read: nginx_up 0 and no other series (never the last good values)', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    const errors: string[] = [];
    createNginxCollector({ registry, targets: [A], read: reader.read, onRead: (_target, error) => errors.push(error?.code ?? 'ok') });
    reader.answers.set(A, stats(9));
    expect(await registry.metrics()).toContain('nginx_connections_active 9\n');
    reader.answers.set(A, new NginxStatusError('MALFORMED', 'bad body'));
    const text = await registry.metrics();
    expect(text).toContain('nginx_up 0\n');
    expect(text).not.toMatch(/^nginx_connections_\w+ /m);
    expect(text).not.toMatch(/^nginx_http_requests_total /m);
    expect(errors).toEqual(['ok', 'NGINX_STATUS_MALFORMED']);
    // And it comes back.
    reader.answers.set(A, stats(4));
    expect(await registry.metrics()).toContain('nginx_up 1\n');
  });

  it('labels each target with addr when there are several, and keeps them independent', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    reader.answers.set(A, stats(3));
    createNginxCollector({ registry, targets: [A, B], read: reader.read, constLabels: { cluster: 'eks', team: 'web' } });
    const text = await registry.metrics();
    expect(text).toContain(`nginx_up{cluster="eks",team="web",addr="${A}"} 1`);
    expect(text).toContain(`nginx_connections_active{cluster="eks",team="web",addr="${A}"} 3`);
    expect(text).toContain(`nginx_up{cluster="eks",team="web",addr="${B}"} 0`);
    expect(text).not.toContain(`nginx_connections_active{cluster="eks",team="web",addr="${B}"}`);
  });

  it('puts constant labels on every series of a single target, without addr', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    reader.answers.set(A, stats(3));
    createNginxCollector({ registry, targets: [A], read: reader.read, constLabels: { pod: 'web-1' } });
    const text = await registry.metrics();
    const samples = text.split('\n').filter((line) => line.startsWith('nginx_'));
    expect(samples).toHaveLength(8);
    for (const line of samples) expect(line).toMatch(/^nginx_\w+\{pod="web-1"\} \d+$/);
  });

  it('shares one read between concurrent scrapes', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    reader.answers.set(A, stats(2));
    createNginxCollector({ registry, targets: [A], read: reader.read });
    const texts = await Promise.all(Array.from({ length: 50 }, () => registry.metrics()));
    expect(reader.calls).toHaveLength(1);
    for (const text of texts) expect(text).toContain('nginx_connections_active 2\n');
  });

  it('rejects bad constant labels', () => {
    expect(() => createNginxCollector({ registry: new Registry(), targets: [A], constLabels: { 'bad-name': 'x' } })).toThrow(/label/);
    expect(() => createNginxCollector({ registry: new Registry(), targets: [A, B], constLabels: { addr: 'x' } })).toThrow(/addr/);
  });

  it('reports nginx_up 0 after close without reading', async () => {
    const registry = new Registry();
    const reader = scriptedReader();
    reader.answers.set(A, stats(2));
    const collector = createNginxCollector({ registry, targets: [A], read: reader.read });
    collector.close();
    expect(await registry.metrics()).toContain('nginx_up 0\n');
    expect(reader.calls).toHaveLength(0);
  });
});
