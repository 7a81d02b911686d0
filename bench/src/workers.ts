/**
 * `npm run bench -- workers [--runs N] [--messages N] [--warmup W] [--rounds R] [--prefetch P]`
 *
 * The workers against their targets, on a private RabbitMQ (or RABBITMQ_URL):
 *  - worker-job cold path: process start → one message received, result written, completed →
 *    process exit, median over N runs, next to the median of `node -e 0` measured in the same run
 *    (target ≤ 2.5×). Runs `apps/worker-job/dist/main.js` when it was built, else `src/main.ts`,
 *    and says which. No compile cache: a fresh pod has none. Also the floor: `node -e` loading
 *    amqplib and pino and nothing else.
 *  - worker-deployment with zero-work messages vs raw amqplib consume + ack at the same prefetch
 *    (target ≥ 0.8×), in steady state: each side consumes W warm-up messages untimed, then N timed;
 *    raw and worker alternate over R rounds and the median of the per-round ratios is reported.
 *    The worker also writes one result file per message (to /dev/shm when present).
 *  - RSS: worker-deployment idle (target ≤ 90 MB) and worker-job peak (target ≤ 80 MB).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import amqp, { type ChannelModel } from 'amqplib';
import { createQueueClient, type RabbitMqQueueConfig } from '@surge/queue-adapters';
import { spawnWorker, startRabbitMq, workMessages, type WorkerProcess } from '@surge/testing';
import { deleteBenchQueues } from './rabbitmq-cleanup.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const out = (line: string) => process.stdout.write(`${line}\n`);

function entryOf(app: string): { cwd: string; script: string; label: string } {
  const dist = path.join(repoRoot, 'apps', app, 'dist', 'main.js');
  if (existsSync(dist)) return { cwd: path.dirname(dist), script: 'main.js', label: `built bundle apps/${app}/dist/main.js` };
  return {
    cwd: path.join(repoRoot, 'apps', app),
    script: 'src/main.ts',
    label: `source apps/${app}/src/main.ts (no dist/main.js: run \`npx nx build ${app}\` to bench the bundle)`,
  };
}

function timeProcess(args: readonly string[], env: Record<string, string>, cwd: string): Promise<{ ms: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd, env, stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve({ ms: performance.now() - started, code }));
  });
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: 'string', default: '20' },
      messages: { type: 'string', default: '30000' },
      warmup: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '3' },
      prefetch: { type: 'string', default: '64' },
    },
  });
  const runs = Number(values.runs);
  const messages = Number(values.messages);
  const prefetch = Number(values.prefetch);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  const job = entryOf('worker-job');
  const deployment = entryOf('worker-deployment');
  out(
    `workers bench on ${os.cpus().length} CPU(s), load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  out(`worker-job: ${job.label}`);
  out(`worker-deployment: ${deployment.label}`);

  const broker = await startRabbitMq();
  out(`rabbitmq: ${broker.source}`);
  const model = await amqp.connect(broker.url);
  const admin = await model.createChannel();
  const created: string[] = [];
  const scratch = mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'surge-bench-workers-'));
  const config = (queue: string): RabbitMqQueueConfig => ({
    kind: 'rabbitmq',
    queue,
    maxDeliveries: 5,
    maxProcessingMs: 60_000,
    url: broker.url,
    managementUrl: broker.managementUrl,
    prefetch: undefined,
  });
  const baseEnv = (queue: string): Record<string, string> => ({
    QUEUE_KIND: 'rabbitmq',
    QUEUE_NAME: queue,
    RABBITMQ_URL: broker.url,
    ...(broker.managementUrl ? { RABBITMQ_MANAGEMENT_URL: broker.managementUrl } : {}),
    RESULTS_DIR: path.join(scratch, 'results'),
    LOG_LEVEL: 'info',
  });
  try {
    // ── worker-job cold path ────────────────────────────────────────────────────────────
    const coldQueues = Array.from({ length: runs }, () => `bench-job-${randomUUID().slice(0, 8)}`);
    created.push(...coldQueues);
    for (const queue of coldQueues) {
      const client = await createQueueClient(config(queue));
      await client.send(workMessages({ loadId: 'bench-cold', count: 1 }).outgoing);
      await client.close();
    }
    const baseline: number[] = [];
    const librariesOnly: number[] = [];
    const cold: number[] = [];
    const env0 = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    await timeProcess(['-e', '0'], env0, scratch); // warm the OS file cache for both sides
    for (const [i, queue] of coldQueues.entries()) {
      baseline.push((await timeProcess(['-e', '0'], env0, scratch)).ms);
      // The floor of any RabbitMQ worker built on these two: loading them, nothing else.
      librariesOnly.push((await timeProcess(['-e', "require('amqplib'); require('pino')"], env0, job.cwd)).ms);
      const started = performance.now();
      const proc = spawnWorker({
        cwd: job.cwd,
        script: job.script,
        compileCache: false,
        env: { ...baseEnv(queue), RECEIVE_WAIT_MS: '5000', WORKER_INSTANCE: `bench-${i}` },
      });
      const { code } = await proc.exited;
      const ms = performance.now() - started;
      const reason = proc.logs.find((l) => l.msg === 'worker-job finished')?.reason;
      if (code !== 0 || reason !== 'processed 1 message(s): 1 completed')
        throw new Error(`worker-job run ${i} ended with ${code} (${String(reason)}): ${proc.stderr()}`);
      cold.push(ms);
    }
    const coldRatio = median(cold) / median(baseline);
    out(`\nworker-job cold path (start → completed → exit), ${runs} runs`);
    out(
      `  node -e 0 median ${median(baseline).toFixed(0)} ms | worker-job median ${median(cold).toFixed(0)} ms (min ${Math.min(...cold).toFixed(0)}, max ${Math.max(...cold).toFixed(0)}) → ${coldRatio.toFixed(2)}× (target ≤ 2.5×)`,
    );
    out(
      `  floor: node -e "require('amqplib'); require('pino')" median ${median(librariesOnly).toFixed(0)} ms → ${(median(librariesOnly) / median(baseline)).toFixed(2)}× (loading the two libraries, no work)`,
    );

    // ── worker-job peak RSS ─────────────────────────────────────────────────────────────
    const rssRuns: number[] = [];
    if (existsSync('/usr/bin/time')) {
      for (let i = 0; i < 5; i++) {
        const queue = `bench-rss-${randomUUID().slice(0, 8)}`;
        created.push(queue);
        const client = await createQueueClient(config(queue));
        await client.send(workMessages({ loadId: 'bench-rss', count: 1 }).outgoing);
        await client.close();
        const proc = spawnWorker({
          cwd: job.cwd,
          script: job.script,
          compileCache: false,
          wrapper: ['/usr/bin/time', '-f', 'maxrss_kb=%M'],
          env: { ...baseEnv(queue), RECEIVE_WAIT_MS: '5000' },
        });
        await proc.exited;
        const kb = Number(/maxrss_kb=(\d+)/.exec(proc.stderr())?.[1]);
        if (Number.isFinite(kb)) rssRuns.push(kb / 1024);
      }
      out(`worker-job peak RSS: max ${Math.max(...rssRuns).toFixed(1)} MB over ${rssRuns.length} runs (target ≤ 80 MB)`);
    } else {
      out('worker-job peak RSS: not measured (/usr/bin/time is not installed)');
    }

    // ── worker-deployment throughput vs raw amqplib ─────────────────────────────────────
    // Steady state: the first `warmup` messages of each side (JIT tiers, first allocations) are
    // consumed but not timed. Raw and worker alternate in `rounds`; the ratio is taken per round.
    const ratios: number[] = [];
    const raws: number[] = [];
    const deps: number[] = [];
    let idleRssMb = Number.NaN;
    for (let round = 0; round < rounds; round++) {
      const rawQueue = `bench-raw-${randomUUID().slice(0, 8)}`;
      const depQueue = `bench-dep-${randomUUID().slice(0, 8)}`;
      created.push(rawQueue, depQueue);
      for (const queue of [rawQueue, depQueue]) {
        const client = await createQueueClient(config(queue));
        const total = warmup + messages;
        for (let from = 0; from < total; from += 1000)
          await client.send(workMessages({ loadId: 'bench-tp', count: Math.min(1000, total - from), startSeq: from }).outgoing);
        await client.close();
      }
      const runRaw = async () => rawConsumeRate(model, rawQueue, messages, prefetch, warmup);
      const runDep = async () =>
        deploymentRate(deployment, { ...baseEnv(depQueue), CONCURRENCY: String(prefetch), PORT: '0', HOST: '127.0.0.1' }, messages, {
          measureIdle: round === 0,
          warmup,
        });
      let raw: number;
      let dep: { rate: number; idleRssMb: number };
      if (round % 2 === 0) {
        raw = await runRaw();
        dep = await runDep();
      } else {
        dep = await runDep();
        raw = await runRaw();
      }
      if (round === 0) idleRssMb = dep.idleRssMb;
      raws.push(raw);
      deps.push(dep.rate);
      ratios.push(dep.rate / raw);
      out(
        `  round ${round + 1}: raw ${raw.toFixed(0)} msg/s | worker-deployment ${dep.rate.toFixed(0)} msg/s → ${(dep.rate / raw).toFixed(2)}×`,
      );
      await deleteBenchQueues(admin, [rawQueue, depQueue]);
    }
    out(`\nzero-work messages, prefetch/concurrency ${prefetch}, ${messages} timed after ${warmup} warm-up messages, ${rounds} rounds`);
    out(
      `  raw amqplib consume+ack median ${median(raws).toFixed(0)} msg/s | worker-deployment median ${median(deps).toFixed(0)} msg/s (validate, result file, complete) → median ratio ${median(ratios).toFixed(2)}× (target ≥ 0.8×)`,
    );
    out(`worker-deployment idle RSS: ${idleRssMb.toFixed(1)} MB (target ≤ 90 MB)`);
  } finally {
    await deleteBenchQueues(admin, created);
    await model.close().catch(() => undefined);
    await broker.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function rawConsumeRate(model: ChannelModel, queue: string, count: number, prefetch: number, warmup = 0): Promise<number> {
  const channel = await model.createChannel();
  await channel.prefetch(prefetch, false);
  let acked = 0;
  let started = performance.now();
  let tag = '';
  await new Promise<void>((resolve) => {
    void channel
      .consume(queue, (message) => {
        if (!message) return;
        channel.ack(message);
        if (++acked === warmup) started = performance.now();
        if (acked === warmup + count) resolve();
      })
      .then((ok) => (tag = ok.consumerTag));
  });
  const rate = count / ((performance.now() - started) / 1000);
  await channel.cancel(tag);
  await channel.close();
  return rate;
}

function vmRssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

/**
 * Processing rate of one worker-deployment process over `count` queued messages, after `warmup`
 * more that are processed but not timed (and, unless skipped, its idle RSS on an empty queue).
 */
export async function deploymentRate(
  entry: { cwd: string; script: string },
  env: Record<string, string>,
  count: number,
  options: { measureIdle?: boolean; warmup?: number } = {},
): Promise<{ rate: number; idleRssMb: number }> {
  const warmup = options.warmup ?? 0;
  const idleRssMb = (options.measureIdle ?? true) ? await idleRss(entry, env) : Number.NaN;
  const worker = spawnWorker({ cwd: entry.cwd, script: entry.script, compileCache: false, env });
  try {
    const port = (await worker.waitForLog((l) => l.msg === 'ops server listening')).port as number;
    await worker.waitForLog((l) => l.msg === 'consuming');
    // The counter is read by polling, so the rate is taken between two readings, whatever the
    // interval: from the first one at or past the warm-up to the first one at or past the end.
    // Every scrape costs the worker CPU (default metrics read /proc), hence a lazy 100 ms.
    // Without a warm-up, timing starts when the worker says it is consuming.
    let from: { at: number; done: number } | undefined = warmup === 0 ? { at: performance.now(), done: 0 } : undefined;
    for (;;) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const at = performance.now();
      const done = text
        .split('\n')
        .filter((l) => l.startsWith('surge_worker_messages_processed_total{'))
        .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
      from ??= done >= warmup ? { at, done } : undefined;
      if (from && done >= warmup + count && done > from.done) return { rate: (done - from.done) / ((at - from.at) / 1000), idleRssMb };
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await stop(worker);
  }
}

/** RSS of a worker-deployment that has been consuming an empty queue for 5 s. */
async function idleRss(entry: { cwd: string; script: string }, env: Record<string, string>): Promise<number> {
  const idleQueue = `bench-idle-${randomUUID().slice(0, 8)}`;
  const idle = spawnWorker({ cwd: entry.cwd, script: entry.script, compileCache: false, env: { ...env, QUEUE_NAME: idleQueue } });
  try {
    await idle.waitForLog((l) => l.msg === 'consuming');
    await new Promise((r) => setTimeout(r, 5000));
    return vmRssMb(idle.pid);
  } finally {
    await stop(idle);
  }
}

async function stop(proc: WorkerProcess): Promise<void> {
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await proc.exited;
  clearTimeout(timer);
}
