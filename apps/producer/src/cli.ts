/**
 * The load CLI: posts a load to the producer, follows it with a progress bar (or plain lines when
 * stdout is not a terminal), prints the summary. Ctrl-C cancels the load; a second Ctrl-C quits.
 * Exit code 0 only when the load completed.
 */
import type { LoadStatus } from '@surge/contracts';
import { sleep } from '@surge/core';
import { CliUsageError, USAGE, cliOptionsFromProcess, type CliOptions } from './cli/config.ts';
import { progressBar, progressLine, summary } from './cli/progress.ts';

class RequestFailed extends Error {}

async function call(
  options: CliOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; location: string | null }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(new URL(path, options.url), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    throw new RequestFailed(
      `cannot reach the producer at ${options.url.origin}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json, location: response.headers.get('location') };
}

function describeRefusal(status: number, json: unknown): string {
  const answer = json as { error?: string; message?: string; errors?: { field: string; message: string }[] } | undefined;
  const detail = answer?.errors?.map((e) => `${e.field} ${e.message}`).join('; ') ?? answer?.message ?? '';
  return `the producer refused the load: ${status} ${answer?.error ?? ''}${detail ? ` (${detail})` : ''}`;
}

async function run(options: CliOptions): Promise<number> {
  const posted = await call(options, 'POST', '/load', options.request);
  if (posted.status !== 202) throw new RequestFailed(describeRefusal(posted.status, posted.json));
  const { loadId, statusUrl } = posted.json as { loadId: string; statusUrl: string };
  process.stderr.write(`load ${loadId} accepted: ${new URL(statusUrl, options.url).toString()}\n`);

  let cancelling = false;
  const onInterrupt = (): void => {
    if (cancelling) process.exit(130);
    cancelling = true;
    process.stderr.write('\ncancelling the load (Ctrl-C again to quit without waiting)…\n');
    void call(options, 'DELETE', statusUrl).catch(() => {});
  };
  process.on('SIGINT', onInterrupt);

  let status: LoadStatus;
  let failures = 0;
  for (;;) {
    const answer = await call(options, 'GET', statusUrl).catch((error: unknown) => {
      // The producer may restart or blip; give up only after a run of failed reads.
      if (++failures >= 10) throw error;
      return undefined;
    });
    if (answer !== undefined) {
      if (answer.status !== 200) throw new RequestFailed(`reading the load status failed: ${answer.status} ${JSON.stringify(answer.json)}`);
      failures = 0;
      status = answer.json as LoadStatus;
      if (options.live) process.stdout.write(`\r${progressBar(status)}\x1b[K`);
      else process.stdout.write(`${progressLine(status)}\n`);
      if (status.state !== 'pending' && status.state !== 'running') break;
    }
    await sleep(options.pollMs);
  }
  process.off('SIGINT', onInterrupt);
  if (options.live) process.stdout.write('\n');
  process.stdout.write(`${summary(status)}\n`);
  return status.state === 'completed' ? 0 : 1;
}

let code: number;
try {
  code = await run(cliOptionsFromProcess());
} catch (error) {
  if (error instanceof CliUsageError) {
    process.stderr.write(`${error.message ? `${error.message}\n` : ''}${USAGE}\n`);
    code = 2;
  } else if (error instanceof RequestFailed) {
    process.stderr.write(`${error.message}\n`);
    code = 1;
  } else {
    throw error;
  }
}
process.exitCode = code;
