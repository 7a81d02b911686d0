import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bar, createProgress, progressLine } from './progress.ts';

const state = (elapsedMs: number, results: number) => ({
  elapsedMs,
  total: 100,
  sent: 100,
  results,
  depth: { ready: 100 - results, inFlight: 0, deadLettered: 0 },
  workloads: [{ workload: 'worker-deployment', desired: 4, running: 3, pending: 1, started: 4 }],
});

function sink(isTTY: boolean): Writable & { text: string; isTTY: boolean; columns: number } {
  const out = new Writable({ write: (chunk, _enc, cb) => ((out.text += String(chunk)), cb()) }) as Writable & {
    text: string;
    isTTY: boolean;
    columns: number;
  };
  out.text = '';
  out.isTTY = isTTY;
  out.columns = 160;
  return out;
}

describe('progress', () => {
  it('draws a bar and the figures', () => {
    expect(bar(5, 10, 10)).toBe('█████░░░░░');
    expect(progressLine(state(12_000, 40), 20)).toBe(' 12s  40/100 done · sent 100 · depth 60 · worker-deployment 3+1p/4 · 20 msg/s');
  });

  it('redraws one line on a TTY and writes plain lines elsewhere', () => {
    const tty = sink(true);
    const p = createProgress('auto', tty, 1000);
    p.update(state(0, 0));
    p.update(state(1000, 10));
    p.finish();
    expect(tty.text.split('\r\x1b[2K')).toHaveLength(3);
    expect(tty.text.endsWith('\n')).toBe(true);

    const plain = sink(false);
    const q = createProgress('auto', plain, 2000);
    for (let t = 0; t <= 4000; t += 1000) q.update(state(t, t / 100));
    expect(plain.text.trim().split('\n')).toHaveLength(3);
    expect(plain.text).not.toContain('\r');
  });
});
