/** Text for the load CLI: a live progress bar, plain progress lines and the final summary. */
import type { LoadStatus } from '@surge/contracts';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** Seconds left at the current rate (undefined while the rate is unknown). */
export function eta(status: LoadStatus): number | undefined {
  if (status.rate <= 0) return undefined;
  return (status.total - status.sent) / status.rate;
}

function counts(status: LoadStatus): string {
  const percent = Math.floor((status.sent / status.total) * 100);
  return `${String(percent).padStart(3)}% ${integer.format(status.sent)}/${integer.format(status.total)}`;
}

/** One line for a TTY, redrawn in place: `[██████░░░░]  60% 6,000/10,000  498 msg/s  ETA 0:08`. */
export function progressBar(status: LoadStatus, width = 30): string {
  const filled = Math.min(width, Math.floor((status.sent / status.total) * width));
  const left = eta(status);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${counts(status)}  ${integer.format(status.rate)} msg/s  ETA ${left === undefined ? '--:--' : duration(left)}`;
}

/** One line per poll when stdout is not a terminal (logs, CI). */
export function progressLine(status: LoadStatus): string {
  const left = eta(status);
  return `${status.state} ${counts(status)} rate=${integer.format(status.rate)}/s eta=${left === undefined ? '-' : duration(left)}`;
}

export function summary(status: LoadStatus): string {
  const started = status.startedAt === undefined ? undefined : Date.parse(status.startedAt);
  const finished = status.finishedAt === undefined ? undefined : Date.parse(status.finishedAt);
  const seconds = started !== undefined && finished !== undefined ? (finished - started) / 1000 : undefined;
  const lines = [
    `load ${status.loadId} ${status.state}: ${integer.format(status.sent)}/${integer.format(status.total)} messages sent (confirmed by the broker)` +
      (seconds === undefined ? '' : ` in ${seconds.toFixed(1)} s, ${integer.format(status.rate)} msg/s`) +
      (status.requestedRate === undefined ? '' : ` (requested ${integer.format(status.requestedRate)} msg/s)`),
  ];
  // Handed to the broker without a confirm: the queue may hold these as well.
  if ((status.unconfirmed ?? 0) > 0)
    lines.push(
      `unconfirmed: ${integer.format(status.unconfirmed!)} more handed to the broker without a confirm (the queue may hold them too)`,
    );
  if (status.error !== undefined) lines.push(`error: ${status.error}`);
  return lines.join('\n');
}
