export { QueueDepthMonitor, type QueueDepthMonitorOptions, type QueueDepthReading, type QueueDepthFailure } from './monitor.ts';
export { registerQueueDepthMetrics, QUEUE_LABEL, type QueueDepthMetricsOptions } from './metrics.ts';
