export {
  workMessages,
  spawnWorker,
  runPool,
  type WorkMessagesOptions,
  type WorkerProcess,
  type SpawnWorkerOptions,
  type LogLine,
} from './workers.ts';
