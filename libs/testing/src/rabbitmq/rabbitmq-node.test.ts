import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import amqp from 'amqplib';
import { describe, expect, it } from 'vitest';
import { RabbitMqUnavailableError, startRabbitMq } from './rabbitmq-node.ts';

/** Processes whose command line mentions the node's temp folder (beam runs with `-home <dir>/home`). */
function processesOf(dir: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(dir));
}

/** Listening TCP sockets of Erlang processes (beam, epmd) that are not on loopback. */
function erlangListenersBeyondLoopback(): string[] {
  const out = execFileSync('ss', ['-Hltnp'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => /beam\.smp|epmd/.test(line))
    .filter((line) => {
      const local = line.trim().split(/\s+/)[3] ?? '';
      // epmd also binds the IPv6 loopback; both are loopback.
      return !local.startsWith('127.0.0.1:') && !local.startsWith('[::1]:');
    });
}

describe('startRabbitMq', () => {
  it('a private node: loopback only, answers AMQP and management, restarts with its data, and leaves nothing behind', async () => {
    const node = await startRabbitMq({ env: {} });
    try {
      expect(node.source).toBe('private-node');
      expect(node.controllable).toBe(true);
      expect(new URL(node.url).hostname).toBe('127.0.0.1');
      expect(erlangListenersBeyondLoopback()).toEqual([]);
      expect(processesOf(node.dir!).length).toBeGreaterThan(0);

      const model = await amqp.connect(node.url);
      const channel = await model.createConfirmChannel();
      await channel.assertQueue('harness-durable', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
      channel.sendToQueue('harness-durable', Buffer.from('kept'), { persistent: true });
      await channel.waitForConfirms();
      await model.close();

      const overview = await fetch(`${new URL(node.managementUrl!).origin}/api/overview`, {
        headers: {
          authorization: `Basic ${Buffer.from(`${new URL(node.managementUrl!).username}:${new URL(node.managementUrl!).password}`).toString('base64')}`,
        },
      });
      expect(overview.status).toBe(200);
      expect(((await overview.json()) as { node: string }).node).toBe(node.nodeName);

      await node.stopBroker();
      await expect(amqp.connect(node.url)).rejects.toThrow();
      await node.startBroker();
      const again = await amqp.connect(node.url);
      const check = await (await again.createChannel()).checkQueue('harness-durable');
      expect(check.messageCount).toBe(1);
      await again.close();
    } finally {
      await node.stop();
    }
    expect(processesOf(node.dir!)).toEqual([]);
    expect(fs.existsSync(node.dir!)).toBe(false);
  }, 180_000);

  it('uses RABBITMQ_URL when set, without starting anything', async () => {
    const broker = await startRabbitMq({
      env: { RABBITMQ_URL: 'amqp://u:p@127.0.0.1:5999/', RABBITMQ_MANAGEMENT_URL: 'http://u:p@127.0.0.1:15999' },
    });
    expect(broker).toMatchObject({
      source: 'env',
      url: 'amqp://u:p@127.0.0.1:5999/',
      managementUrl: 'http://u:p@127.0.0.1:15999',
      controllable: false,
    });
    await expect(broker.stopBroker()).rejects.toThrow(/private node/);
    await broker.stop();
  });

  it('when nothing can run a broker, the failure is one line naming what to install or set', () => {
    const message = new RabbitMqUnavailableError().message;
    expect(message).not.toContain('\n');
    expect(message).toContain('apt-get install -y rabbitmq-server');
    expect(message).toContain('RABBITMQ_URL=');
  });
});
