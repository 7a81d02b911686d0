import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { portAnswers } from '../rabbitmq/ports.ts';
import { startPrometheus } from './prometheus.ts';

describe('startPrometheus', () => {
  it('scrapes a loopback target and answers instant queries, then stops', async () => {
    const target = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('# TYPE demo_value gauge\ndemo_value{kind="a"} 3\ndemo_value{kind="b"} 4\n'),
    );
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const prometheus = await startPrometheus({
      targets: [{ job: 'demo', target: `127.0.0.1:${(target.address() as AddressInfo).port}` }],
      scrapeIntervalMs: 500,
    });
    try {
      const [sum] = await prometheus.waitFor('sum(demo_value)', (r) => r.length === 1);
      expect(sum!.value[1]).toBe('7');
      expect((await prometheus.query('demo_value')).data?.result).toHaveLength(2);
      expect(await prometheus.targets()).toEqual([{ job: 'demo', health: 'up', lastError: '' }]);
    } finally {
      await prometheus.stop();
      target.closeAllConnections();
      await new Promise((resolve) => target.close(resolve));
    }
    expect(await portAnswers(prometheus.port)).toBe(false);
  }, 60_000);

  it('refuses targets beyond loopback', async () => {
    await expect(startPrometheus({ targets: [{ job: 'x', target: '10.0.0.1:9113' }] })).rejects.toThrow(/loopback/);
  });
});
