export {
  REPORT_VERSION,
  type Accounting,
  type KeyFigures,
  type LatencyFigures,
  type PeakFigure,
  type ScaleReport,
  type ClusterSection,
  type TimelineSample,
  type WorkloadKind,
} from './types.ts';
export {
  percentile,
  latencyFigures,
  accounting,
  accountRun,
  keyFigures,
  totalReplicas,
  buildReport,
  type BuildReportInput,
  type RunAccountingInput,
  type RunAccounting,
} from './figures.ts';
export { renderHtml, escapeHtml } from './html.ts';
export { timelineCsv, writeReport, readReport, readReportFile, ReportFileError, REPORT_FILES } from './files.ts';
export {
  compareReports,
  renderCompareHtml,
  writeComparison,
  runLabel,
  workloadKindOf,
  queueOf,
  COMPARISON_VERSION,
  COMPARE_FILES,
  type CompareInput,
  type ComparedRun,
  type ComparedPoint,
  type ComparisonRow,
  type ScaleComparison,
} from './compare.ts';
export { TimelineRecorder } from './recorder.ts';
export { readOutcomeFiles, type OutcomeSummary } from './outcomes.ts';
export { prometheusTimeline, prometheusQueries, PrometheusQueryError, type PrometheusRangeOptions } from './prometheus.ts';
