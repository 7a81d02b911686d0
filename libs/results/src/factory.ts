import type { ResultsConfig } from './config.ts';
import type { ResultSink, SinkOptions } from './types.ts';

/**
 * Creates the configured sink. Each is loaded lazily, so a worker writing to a folder never loads
 * the Azure SDK: start-up time matters for a pod that lives for one message.
 */
export async function createResultSink(config: ResultsConfig, options: SinkOptions = {}): Promise<ResultSink> {
  switch (config.kind) {
    case 'local': {
      const { LocalResultSink } = await import('./local/local-sink.ts');
      return LocalResultSink.open(config, options);
    }
    case 'blob': {
      const { BlobResultSink } = await import('./blob/blob-sink.ts');
      return BlobResultSink.open(config, options);
    }
  }
}
