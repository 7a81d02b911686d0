/**
 * The one place that turns SIGTERM/SIGINT into an orderly stop: Kubernetes sends SIGTERM on scale-in,
 * waits `terminationGracePeriodSeconds`, then SIGKILLs. `main` modules call this once; `stop` gets
 * the grace budget and the process exits 0 when it finishes in time, 1 when it overruns or throws.
 * A second signal exits at once.
 */
export interface ShutdownOptions {
  /** Budget for `stop`, below the pod's terminationGracePeriodSeconds. */
  graceMs: number;
  stop: (reason: string) => Promise<void>;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  exit?: (code: number) => void;
  signals?: readonly NodeJS.Signals[];
}

export function handleShutdownSignals(options: ShutdownOptions): { trigger: (reason: string) => Promise<void> } {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? (() => {});
  let stopping: Promise<void> | undefined;

  const trigger = (reason: string): Promise<void> => {
    if (stopping) {
      log('second stop request: exiting now', { reason });
      exit(1);
      return stopping;
    }
    log('stopping', { reason, graceMs: options.graceMs });
    const timer = setTimeout(() => {
      log('stop overran its grace budget: exiting', { graceMs: options.graceMs });
      exit(1);
    }, options.graceMs);
    timer.unref();
    stopping = options.stop(reason).then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (error: unknown) => {
        clearTimeout(timer);
        log('stop failed', { err: error instanceof Error ? error.message : String(error) });
        exit(1);
      },
    );
    return stopping;
  };

  for (const signal of options.signals ?? (['SIGTERM', 'SIGINT'] as const)) process.on(signal, () => void trigger(signal));
  return { trigger };
}
