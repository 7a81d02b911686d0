export {
  startPrometheus,
  type PrometheusInstance,
  type PromQueryResponse,
  type PromSample,
  type ScrapeTarget,
  type StartPrometheusOptions,
} from './prometheus.ts';
