/**
 * Results in Azure Blob Storage: `<container>/<loadId>/<messageId>.json`, written with
 * `If-None-Match: *`, so the service itself refuses a second write (409 BlobAlreadyExists) and a
 * redelivered message can never replace the first result. The container is created if absent.
 *
 * Sign-in: a connection string (key or SAS), or the account URL with DefaultAzureCredential, which
 * covers AKS workload identity. `@azure/identity` is loaded only in that second case. The
 * connection string is never logged and never part of an error message.
 */
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { WorkResult } from '@surge/contracts';
import { silentLogger, type Logger } from '@surge/core';
import type { BlobResultsConfig } from '../config.ts';
import { ResultError } from '../errors.ts';
import { parseResultName, resultName } from '../names.ts';
import { checkResult, parseStoredResult } from '../result-document.ts';
import type { ResultKey, ResultSink, SinkOptions, WriteOutcome } from '../types.ts';
import { translateBlobError } from './translate.ts';

/**
 * A worker holds a message lock while it writes: fail within seconds rather than the SDK's
 * default minutes, abandon the message, and let the queue redeliver it later.
 */
const PIPELINE_OPTIONS: StoragePipelineOptions = {
  retryOptions: { maxTries: 3, tryTimeoutInMs: 10_000, retryDelayInMs: 200, maxRetryDelayInMs: 2_000 },
};

export class BlobResultSink implements ResultSink {
  readonly kind = 'blob' as const;
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly logger: Logger;
  private containerReady: Promise<void> | undefined;
  private closed = false;

  private constructor(container: ContainerClient, logger: Logger) {
    this.container = container;
    this.logger = logger;
    // The client URL carries a SAS query when the connection string has one: keep only origin and path.
    const url = new URL(container.url);
    this.location = `${url.origin}${url.pathname}`;
  }

  static async open(config: BlobResultsConfig, options: SinkOptions = {}): Promise<BlobResultSink> {
    let service: BlobServiceClient;
    try {
      if (config.connectionString !== undefined) {
        service = BlobServiceClient.fromConnectionString(config.connectionString, PIPELINE_OPTIONS);
      } else if (config.accountUrl !== undefined) {
        const { DefaultAzureCredential } = await import('@azure/identity');
        service = new BlobServiceClient(config.accountUrl, new DefaultAzureCredential(), PIPELINE_OPTIONS);
      } else {
        throw new ResultError('AUTH_FAILED', 'blob results need a connection string or an account URL');
      }
    } catch (cause) {
      if (cause instanceof ResultError) throw cause;
      // The SDK's parse errors may quote the connection string: say only what failed.
      throw new ResultError('AUTH_FAILED', 'the storage connection string or account URL was rejected by the SDK');
    }
    const sink = new BlobResultSink(service.getContainerClient(config.container), options.logger ?? silentLogger);
    await sink.ensureContainer();
    return sink;
  }

  async writeIfAbsent(result: WorkResult): Promise<WriteOutcome> {
    this.assertOpen();
    checkResult(result);
    const name = resultName(result);
    const body = JSON.stringify(result);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body), {
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
        return 'written';
      } catch (cause) {
        const status = (cause as { statusCode?: number }).statusCode;
        const code = (cause as { code?: string }).code;
        // 409 BlobAlreadyExists is the documented answer; some endpoints answer 412 ConditionNotMet.
        if (status === 409 && code === 'BlobAlreadyExists') return 'duplicate';
        if (status === 412) return 'duplicate';
        // Someone removed the container after start-up: create it again once.
        if (status === 404 && code === 'ContainerNotFound' && attempt === 1) {
          this.logger.warn({ location: this.location }, 'results container disappeared; creating it again');
          this.containerReady = undefined;
          await this.ensureContainer();
          continue;
        }
        throw translateBlobError(cause, `cannot store result ${name}`);
      }
    }
  }

  async read(key: ResultKey): Promise<WorkResult | undefined> {
    this.assertOpen();
    const name = resultName(key);
    let buffer: Buffer;
    try {
      buffer = await this.container.getBlobClient(name).downloadToBuffer();
    } catch (cause) {
      if ((cause as { statusCode?: number }).statusCode === 404) return undefined;
      throw translateBlobError(cause, `cannot read result ${name}`);
    }
    return parseStoredResult(buffer.toString('utf8'), name);
  }

  async list(loadId?: string): Promise<ResultKey[]> {
    this.assertOpen();
    const keys: ResultKey[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat(loadId === undefined ? {} : { prefix: `${loadId}/` })) {
        const key = parseResultName(blob.name);
        if (key) keys.push(key);
      }
    } catch (cause) {
      if ((cause as { statusCode?: number }).statusCode === 404) return [];
      throw translateBlobError(cause, 'cannot list results');
    }
    return keys;
  }

  async close(): Promise<void> {
    // The SDK holds no handle that must be released; a closed sink only refuses further calls.
    this.closed = true;
  }

  private ensureContainer(): Promise<void> {
    this.containerReady ??= this.container.createIfNotExists().then(
      () => undefined,
      (cause: unknown) => {
        this.containerReady = undefined;
        throw translateBlobError(cause, `cannot create or reach the results container ${this.location}`);
      },
    );
    return this.containerReady;
  }

  private assertOpen(): void {
    if (this.closed) throw new ResultError('CLOSED', 'the result sink is closed');
  }
}
