export { REPO_ROOT, appDir } from './paths.ts';
export {
  HTTP_APPS,
  IMAGE_APPS,
  AppStartError,
  startApp,
  waitForLivez,
  scrape,
  waitUntil,
  tempDir,
  uniqueQueueName,
  type HttpApp,
  type ImageApp,
  type RunningApp,
  type StartAppOptions,
} from './apps.ts';
export {
  CATALOGUE_PATH,
  CatalogueError,
  parseCatalogue,
  readCatalogue,
  patternCovers,
  rowForSeries,
  type CatalogueRow,
} from './catalogue.ts';
export {
  ExpositionError,
  parseExposition,
  labelNamesOf,
  sampleValue,
  type MetricFamily,
  type MetricType,
  type Sample,
} from './exposition.ts';
export { metricNames, parseLabelValuesQuery, withoutGrafanaVariables } from './promql.ts';
export {
  ContainerError,
  buildah,
  inspectImage,
  missingForImages,
  mountImage,
  numericUser,
  runContainer,
  type ImageConfig,
  type ProcessInfo,
  type RunOptions,
  type RunningContainer,
} from './container.ts';
export { PodSpecError, podRun, renderBase, type PodRun } from './pod.ts';
