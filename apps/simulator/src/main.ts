/**
 * `npm run simulate -- …`: overlay + profile → simulated run → report files. Exit 0 on a finished
 * run, 1 when it hit the virtual time limit or broke an invariant, 2 on bad input (one line).
 */
import path from 'node:path';
import { SurgeError } from '@surge/core';
import { applySets, readProfileFile, readWorkloads, renderOverlay, simulate, writeSimulation } from '@surge/cluster-sim';
import { readConfig } from './config.ts';

async function main(): Promise<number> {
  const config = readConfig(process.argv.slice(2));
  let profile = readProfileFile(config.profileFile);
  profile = applySets(profile, [...(config.workMs === undefined ? [] : [`pod.workMs=${config.workMs}`]), ...config.sets]);
  // The overlay's ScaledJob and its queue-scaled ScaledObjects run together, on one engine and one queue.
  const { job, deployments } = readWorkloads(renderOverlay(config.overlay), config.overlay);
  const names = [...(job === undefined ? [] : [job.spec.name]), ...deployments.map((d) => d.spec.name)];
  const firstTrigger = (job ?? deployments[0])?.spec.triggers[0];
  const tty = process.stderr.isTTY === true;
  let lastDraw = 0;
  const result = await simulate({
    workload: job,
    deployments,
    profile,
    count: config.count,
    rate: config.rate,
    seed: config.seed,
    onProgress: tty
      ? (done, total) => {
          const now = Date.now();
          if (now - lastDraw < 100) return;
          lastDraw = now;
          const width = 30;
          const filled = Math.round((done / total) * width);
          process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
        }
      : undefined,
  });
  if (tty) process.stderr.write('\n');
  const report = await writeSimulation(config.out, {
    result,
    workload: names.join('+'),
    queue: firstTrigger?.source.getter ?? 'queue',
    profile: profile.name,
    settings: {
      overlay: path.relative(process.cwd(), config.overlay) || '.',
      count: config.count,
      rate: config.rate,
      seed: config.seed,
      workMs: profile.pod.workMs,
      sets: config.sets.join(' '),
    },
    ...(config.pricePerNodeHour === undefined ? {} : { pricePerNodeHour: config.pricePerNodeHour }),
  });
  const f = report.figures;
  process.stdout.write(
    `simulated ${config.count} messages on ${profile.name}: first result ${f.timeToFirstResultSeconds ?? '—'} s, peak ${f.peak?.replicas ?? 0} pods, drained ${f.queueDrainedAtSeconds ?? '—'} s, back to zero ${f.backToZeroAtSeconds ?? '—'} s, ${report.cluster?.nodeHours ?? 0} node-hours, lost ${report.accounting?.lost ?? '—'} → ${config.out}\n`,
  );
  return result.finished && result.violations.length === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof SurgeError && !error.retryable) {
      process.stderr.write(`simulate: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`simulate: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
