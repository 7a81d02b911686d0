/**
 * The Azurite harness, and the blob result sink against it: names, content, container creation,
 * and create-if-absent under concurrency (the property every redelivery relies on).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient } from '@azure/storage-blob';
import type { WorkResult } from '@surge/contracts';
import { createResultSink, isResultError, type ResultSink } from '@surge/results';
import { startAzurite, type AzuriteInstance } from './azurite.ts';
import { portAnswers } from '../rabbitmq/ports.ts';

function result(loadId: string, overrides: Partial<WorkResult> = {}): WorkResult {
  const now = new Date().toISOString();
  return {
    version: 1,
    messageId: randomUUID(),
    loadId,
    seq: 3,
    worker: { kind: 'deployment', instance: 'w-1' },
    deliveryAttempt: 1,
    enqueuedAt: now,
    startedAt: now,
    finishedAt: now,
    outcome: 'succeeded',
    ...overrides,
  };
}

describe('Azurite harness and blob result sink', () => {
  let azurite: AzuriteInstance;
  let sink: ResultSink;
  const container = `results-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    azurite = await startAzurite();
    sink = await createResultSink({ kind: 'blob', connectionString: azurite.connectionString, accountUrl: undefined, container });
  }, 60_000);

  afterAll(async () => {
    await sink?.close();
    const port = azurite?.port;
    await azurite?.stop();
    if (port !== undefined) expect(await portAnswers(port)).toBe(false);
  });

  it('creates the container if absent and stores <loadId>/<messageId>.json as JSON', async () => {
    const r = result('load-blob');
    expect(await sink.writeIfAbsent(r)).toBe('written');
    // Read back with the raw SDK: the name and content are what other tools (and KEDA reports) see.
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient(container)
      .getBlobClient(`load-blob/${r.messageId}.json`);
    const properties = await blob.getProperties();
    expect(properties.contentType).toBe('application/json');
    expect(JSON.parse((await blob.downloadToBuffer()).toString('utf8'))).toEqual(r);
    expect(await sink.read(r)).toEqual(r);
  });

  it('detects a duplicate and keeps the first result, also under concurrent writers', async () => {
    const first = result('load-dup');
    expect(await sink.writeIfAbsent(first)).toBe('written');
    expect(await sink.writeIfAbsent({ ...first, deliveryAttempt: 2, worker: { kind: 'job', instance: 'other' } })).toBe('duplicate');
    expect(await sink.read(first)).toEqual(first);

    const racing = result('load-dup');
    const outcomes = await Promise.all(Array.from({ length: 12 }, (_, i) => sink.writeIfAbsent({ ...racing, deliveryAttempt: i + 1 })));
    expect(outcomes.filter((o) => o === 'written')).toHaveLength(1);
    expect((await sink.read(racing))?.deliveryAttempt).toBe(outcomes.indexOf('written') + 1);
  });

  it('lists results per load', async () => {
    const written = [result('load-list'), result('load-list'), result('load-list')];
    for (const r of written) await sink.writeIfAbsent(r);
    const keys = await sink.list('load-list');
    expect(keys.map((k) => k.messageId).sort()).toEqual(written.map((r) => r.messageId).sort());
    expect((await sink.list()).length).toBeGreaterThanOrEqual(written.length + 3);
  });

  it('fails with a typed retryable error when the store is unreachable, without leaking the key', async () => {
    const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
    const error = await createResultSink({
      kind: 'blob',
      connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;`,
      accountUrl: undefined,
      container: 'nowhere',
    }).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_UNAVAILABLE');
    expect(isResultError(error) && error.retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain(key);
  }, 60_000);
});
