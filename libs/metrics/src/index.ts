export { createRegistry, LATENCY_BUCKETS_SECONDS, Registry, Counter, Gauge, Histogram } from './metrics.ts';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.ts';
