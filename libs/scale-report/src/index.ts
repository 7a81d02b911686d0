export {
  REPORT_VERSION,
  type Accounting,
  type KeyFigures,
  type LatencyFigures,
  type PeakFigure,
  type ScaleReport,
  type TimelineSample,
} from './types.ts';
export { percentile, latencyFigures, accounting, keyFigures, totalReplicas, buildReport, type BuildReportInput } from './figures.ts';
export { renderHtml, escapeHtml } from './html.ts';
export { timelineCsv, writeReport, readReport, ReportFileError, REPORT_FILES } from './files.ts';
export { TimelineRecorder } from './recorder.ts';
export { prometheusTimeline, prometheusQueries, PrometheusQueryError, type PrometheusRangeOptions } from './prometheus.ts';
