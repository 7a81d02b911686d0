/**
 * Exit codes both worker apps document; Kubernetes shows them as the pod's exit code, so one
 * definition keeps a Job pod's 3 and a Deployment pod's 3 meaning the same thing.
 */
export const WorkerExitCodes = {
  /** Done, or stopped cleanly (work failures are the queue's to retry, not the process's). */
  OK: 0,
  /** A variable or a folder is wrong (or the port is taken): one line names it. */
  CONFIG: 2,
  QUEUE: 3,
  RESULTS: 4,
  UNEXPECTED: 5,
} as const;
