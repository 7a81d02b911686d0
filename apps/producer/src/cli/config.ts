/**
 * Arguments of the load CLI (`npm run load -- --count 10000 --rate 500 --url …`). This is the CLI's
 * one reader of `process.env` (PRODUCER_TOKEN, PRODUCER_URL).
 */
import { parseArgs } from 'node:util';
import type { LoadRequest, WorkSpec } from '@surge/contracts';

export interface CliOptions {
  url: URL;
  token: string | undefined;
  request: LoadRequest;
  /** How often the status is read. */
  pollMs: number;
  /** Draw a live bar (TTY) or print a plain line per poll. */
  live: boolean;
}

export class CliUsageError extends Error {}

export const USAGE = `usage: npm run load -- --count <n> [--rate <msg/s>] [--payload-bytes <n>] [--duration-ms <n>] [--mode wait|cpu]
                       [--failure-probability <0..1>] [--load-id <id>] [--url <producer url>] [--token <token>]
                       [--poll-ms <n>] [--plain]
  --url defaults to PRODUCER_URL or http://127.0.0.1:8080; --token defaults to PRODUCER_TOKEN.
  Exit code: 0 when the load completed, 1 when it failed, was cancelled or was refused, 2 on a usage error.`;

function number(name: string, text: string | undefined, integer: boolean): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    throw new CliUsageError(`--${name}: expected ${integer ? 'an integer' : 'a number'}, got ${JSON.stringify(text)}`);
  return value;
}

export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, isTty: boolean): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        count: { type: 'string' },
        rate: { type: 'string' },
        'payload-bytes': { type: 'string' },
        'duration-ms': { type: 'string' },
        mode: { type: 'string' },
        'failure-probability': { type: 'string' },
        'load-id': { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        'poll-ms': { type: 'string' },
        plain: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new CliUsageError((error as Error).message);
  }
  if (values.help) throw new CliUsageError('');
  const count = number('count', values.count, true);
  if (count === undefined) throw new CliUsageError('--count is required');
  let url: URL;
  try {
    url = new URL(values.url ?? env.PRODUCER_URL ?? 'http://127.0.0.1:8080');
  } catch {
    throw new CliUsageError('--url: expected a URL like http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliUsageError('--url: expected an http:// or https:// URL');

  const request: LoadRequest = { count };
  const rate = number('rate', values.rate, false);
  if (rate !== undefined) request.rate = rate;
  const payloadBytes = number('payload-bytes', values['payload-bytes'], true);
  if (payloadBytes !== undefined) request.payloadBytes = payloadBytes;
  if (values['load-id'] !== undefined) request.loadId = values['load-id'];
  const work: Partial<WorkSpec> = {};
  const durationMs = number('duration-ms', values['duration-ms'], true);
  if (durationMs !== undefined) work.durationMs = durationMs;
  if (values.mode !== undefined) {
    if (values.mode !== 'wait' && values.mode !== 'cpu') throw new CliUsageError('--mode: expected wait or cpu');
    work.mode = values.mode;
  }
  const failureProbability = number('failure-probability', values['failure-probability'], false);
  if (failureProbability !== undefined) work.failureProbability = failureProbability;
  if (Object.keys(work).length > 0) request.work = work;

  const pollMs = number('poll-ms', values['poll-ms'], true) ?? (isTty ? 250 : 1_000);
  if (pollMs < 50) throw new CliUsageError('--poll-ms: expected at least 50');
  const token = values.token ?? env.PRODUCER_TOKEN;
  return { url, token: token === undefined || token === '' ? undefined : token, request, pollMs, live: isTty && !values.plain };
}

export function cliOptionsFromProcess(): CliOptions {
  return parseCliArgs(process.argv.slice(2), process.env, Boolean(process.stdout.isTTY));
}
