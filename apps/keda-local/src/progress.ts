/**
 * Live progress: one redrawn line on a terminal (a bar for the load, depth, replicas, processed/s),
 * plain lines every few seconds otherwise (CI logs, pipes), nothing with `off`.
 */
import type { QueueDepth } from '@surge/queue-adapters';
import type { WorkloadStatus } from '@surge/supervisor';

export interface ProgressState {
  readonly elapsedMs: number;
  readonly total: number;
  readonly sent: number;
  readonly results: number;
  readonly depth: QueueDepth | undefined;
  readonly workloads: readonly WorkloadStatus[];
}

export interface Progress {
  update(state: ProgressState): void;
  /** Ends the redrawn line; idempotent. */
  finish(): void;
}

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export function bar(done: number, total: number, width: number): string {
  const filled = total <= 0 ? 0 : Math.min(width, Math.round((done / total) * width));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function progressLine(state: ProgressState, rate: number, width?: number): string {
  const seconds = (state.elapsedMs / 1000).toFixed(0).padStart(3);
  const depth = state.depth === undefined ? '?' : String(state.depth.ready + state.depth.inFlight);
  const workloads = state.workloads
    .map((w) => `${w.workload} ${w.running}${w.pending > 0 ? `+${w.pending}p` : ''}/${w.desired}`)
    .join(' · ');
  const text = `${seconds}s ${String(state.results).padStart(String(state.total).length)}/${state.total} done · sent ${state.sent} · depth ${depth} · ${workloads} · ${rate.toFixed(0)} msg/s`;
  return width === undefined ? text : `[${bar(state.results, state.total, width)}] ${text}`;
}

export function createProgress(mode: 'auto' | 'tty' | 'plain' | 'off', out: Out, plainEveryMs: number): Progress {
  const kind = mode === 'auto' ? (out.isTTY ? 'tty' : 'plain') : mode;
  let previous: { at: number; results: number } | undefined;
  let rate = 0;
  let lastPlainAt = -Infinity;
  let drawn = false;
  let finished = false;
  return {
    update(state) {
      if (kind === 'off' || finished) return;
      if (previous && state.elapsedMs > previous.at) {
        // Smoothed over the last few seconds, so the figure does not jump with each sample.
        const instant = ((state.results - previous.results) * 1000) / (state.elapsedMs - previous.at);
        rate = rate === 0 ? instant : rate * 0.6 + instant * 0.4;
      }
      previous = { at: state.elapsedMs, results: state.results };
      if (kind === 'tty') {
        const columns = out.columns ?? 100;
        const line = progressLine(state, rate, Math.max(10, Math.min(30, columns - 100)));
        out.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
        drawn = true;
      } else if (state.elapsedMs - lastPlainAt >= plainEveryMs) {
        lastPlainAt = state.elapsedMs;
        out.write(`${progressLine(state, rate)}\n`);
      }
    },
    finish() {
      if (finished) return;
      finished = true;
      if (drawn) out.write('\n');
    },
  };
}
