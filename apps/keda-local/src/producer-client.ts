/** The producer's HTTP API as keda-local uses it: start one load, read its status. */
import { SurgeError } from '@surge/core';
import type { LoadRequest, LoadStatus } from '@surge/contracts';

export class ProducerClientError extends SurgeError {
  constructor(message: string, retryable: boolean, cause?: unknown) {
    super('PRODUCER_REQUEST_FAILED', message, { retryable, cause });
  }
}

export class ProducerClient {
  readonly #url: string;
  readonly #token: string;

  constructor(url: string, token: string) {
    this.#url = url;
    this.#token = token;
  }

  async startLoad(request: LoadRequest): Promise<{ loadId: string }> {
    const body = await this.#call('POST', '/load', request, [202]);
    return body as { loadId: string };
  }

  async status(loadId: string): Promise<LoadStatus> {
    return (await this.#call('GET', `/load/${encodeURIComponent(loadId)}`, undefined, [200])) as LoadStatus;
  }

  async #call(method: string, route: string, body: unknown, expected: number[]): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.#url}${route}`, {
        method,
        headers: { authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new ProducerClientError(`${method} ${route}: the producer did not answer (${(error as Error).message})`, true, error);
    }
    const text = await response.text();
    if (!expected.includes(response.status)) {
      throw new ProducerClientError(
        `${method} ${route}: ${response.status} ${text.slice(0, 300)}`,
        response.status >= 500 || response.status === 429,
      );
    }
    return JSON.parse(text) as unknown;
  }
}
