import { describe, expect, it } from 'vitest';
import { numericUser } from './container.ts';
import { podRun, renderBase } from './pod.ts';

describe('podRun (base manifests)', () => {
  it('reads env, emptyDir paths, user, grace period and port of each app', async () => {
    const objects = await renderBase();
    const job = podRun(objects, 'worker-job');
    expect(job.writablePaths.sort()).toEqual(['/tmp', '/var/lib/surge']);
    expect(job.env).toMatchObject({ QUEUE_KIND: 'embedded', EMBEDDED_QUEUE_DIR: '/var/lib/surge/queue', WORKER_INSTANCE: job.podName });
    expect(job.port).toBeUndefined();
    expect([job.runAsUser, job.runAsGroup, job.readOnlyRootFilesystem]).toEqual([1000, 1000, true]);
    expect(job.terminationGracePeriodSeconds).toBeGreaterThan(0);
    const producer = podRun(objects, 'producer', { 'surge-producer/token': 'x'.repeat(32) });
    expect(producer.env['PRODUCER_TOKEN']).toBe('x'.repeat(32));
    expect(producer.port).toBe(8080);
    expect(() => podRun(objects, 'producer')).toThrow(/PRODUCER_TOKEN comes from Secret surge-producer key token/);
    expect(() => podRun(objects, 'nope')).toThrow(/no Deployment or ScaledJob nope/);
  });
});

describe('numericUser', () => {
  it('accepts uid[:gid] and refuses names', () => {
    expect(numericUser('1000:1000')).toEqual({ uid: 1000, gid: 1000 });
    expect(numericUser('1001')).toEqual({ uid: 1001, gid: 1001 });
    expect(() => numericUser('node')).toThrow(/numeric/);
    expect(() => numericUser('')).toThrow(/numeric/);
  });
});
