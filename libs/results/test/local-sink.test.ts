import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkResult } from '@surge/contracts';
import { createResultSink, isResultError, parseResultName, resultName, type ResultSink } from '../src/index.ts';

function result(overrides: Partial<WorkResult> = {}): WorkResult {
  const now = new Date().toISOString();
  return {
    version: 1,
    messageId: randomUUID(),
    loadId: 'load-a',
    seq: 0,
    worker: { kind: 'job', instance: 'first' },
    deliveryAttempt: 1,
    enqueuedAt: now,
    startedAt: now,
    finishedAt: now,
    outcome: 'succeeded',
    ...overrides,
  };
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function openSink(): Promise<{ sink: ResultSink; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-results-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { sink: await createResultSink({ kind: 'local', dir: path.join(dir, 'results') }), dir: path.join(dir, 'results') };
}

describe('local result sink', () => {
  it('stores <loadId>/<messageId>.json with the result as content', async () => {
    const { sink, dir } = await openSink();
    const r = result();
    expect(await sink.writeIfAbsent(r)).toBe('written');
    expect(JSON.parse(readFileSync(path.join(dir, 'load-a', `${r.messageId}.json`), 'utf8'))).toEqual(r);
    expect(await sink.read(r)).toEqual(r);
    expect(await sink.list('load-a')).toEqual([{ loadId: 'load-a', messageId: r.messageId }]);
    expect(await sink.read({ loadId: 'load-a', messageId: randomUUID() })).toBeUndefined();
  });

  it('detects a duplicate and never overwrites the first result', async () => {
    const { sink } = await openSink();
    const first = result();
    const second = { ...first, worker: { kind: 'deployment' as const, instance: 'second' }, deliveryAttempt: 2 };
    expect(await sink.writeIfAbsent(first)).toBe('written');
    expect(await sink.writeIfAbsent(second)).toBe('duplicate');
    expect(await sink.read(first)).toEqual(first);
  });

  it('lets exactly one of many concurrent writers of the same message win, and leaves no temp files', async () => {
    const { sink, dir } = await openSink();
    const base = result();
    const outcomes = await Promise.all(Array.from({ length: 25 }, (_, i) => sink.writeIfAbsent({ ...base, deliveryAttempt: i + 1 })));
    expect(outcomes.filter((o) => o === 'written')).toHaveLength(1);
    const winner = outcomes.indexOf('written') + 1;
    expect((await sink.read(base))?.deliveryAttempt).toBe(winner);
    expect(readdirSync(path.join(dir, 'load-a'))).toEqual([`${base.messageId}.json`]);
  });

  it('replaces what a killed writer left (an empty or cut file) and reports written; an empty file reads as absent', async () => {
    const { sink, dir } = await openSink();
    const emptyLeft = result();
    const cutLeft = result();
    mkdirSync(path.join(dir, 'load-a'), { recursive: true });
    writeFileSync(path.join(dir, 'load-a', `${emptyLeft.messageId}.json`), '');
    writeFileSync(path.join(dir, 'load-a', `${cutLeft.messageId}.json`), JSON.stringify(cutLeft).slice(0, 40));
    expect(await sink.read(emptyLeft)).toBeUndefined();
    expect(await sink.writeIfAbsent(emptyLeft)).toBe('written');
    expect(await sink.writeIfAbsent(cutLeft)).toBe('written');
    expect(await sink.read(emptyLeft)).toEqual(emptyLeft);
    expect(await sink.read(cutLeft)).toEqual(cutLeft);
    // Complete now: a further write is a duplicate again, and no temp file is left behind.
    expect(await sink.writeIfAbsent({ ...cutLeft, deliveryAttempt: 2 })).toBe('duplicate');
    expect(readdirSync(path.join(dir, 'load-a')).sort()).toEqual([`${emptyLeft.messageId}.json`, `${cutLeft.messageId}.json`].sort());
  });

  it('lists every load and ignores stray files', async () => {
    const { sink, dir } = await openSink();
    const a = result({ loadId: 'a' });
    const b = result({ loadId: 'b' });
    await sink.writeIfAbsent(a);
    await sink.writeIfAbsent(b);
    writeFileSync(path.join(dir, 'a', '.leftover.123.tmp'), 'partial');
    writeFileSync(path.join(dir, 'a', 'notes.txt'), 'x');
    const keys = await sink.list();
    expect(keys.map((k) => resultName(k)).sort()).toEqual([resultName(a), resultName(b)].sort());
  });

  it('refuses a result that breaks the contract (its ids would name the file)', async () => {
    const { sink } = await openSink();
    const error = await sink.writeIfAbsent(result({ loadId: '../escape' })).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_INVALID_RESULT');
    expect(isResultError(error) && error.retryable).toBe(false);
  });

  it('refuses a folder that cannot be created with a configuration error naming RESULTS_DIR', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'surge-results-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, 'file'), 'not a folder');
    for (const unusable of [path.join(dir, 'file', 'results'), '/proc/surge-results/x']) {
      const error = await createResultSink({ kind: 'local', dir: unusable }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', retryable: false, message: expect.stringMatching(/^RESULTS_DIR: expected /) });
    }
  });

  it('never writes through a link planted inside the folder: the load folder must be a real folder', async () => {
    const { sink, dir } = await openSink();
    const outside = mkdtempSync(path.join(os.tmpdir(), 'surge-results-outside-'));
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    mkdirSync(dir, { recursive: true });
    symlinkSync(outside, path.join(dir, 'load-a'));
    const error = await sink.writeIfAbsent(result()).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_NOT_WRITABLE');
    expect((error as Error).message).toMatch(/symbolic link/);
    expect(readdirSync(outside)).toEqual([]);
    // Another load still writes normally.
    expect(await sink.writeIfAbsent(result({ loadId: 'load-b' }))).toBe('written');
  });

  it('never writes through a result file planted as a link', async () => {
    const { sink, dir } = await openSink();
    const outside = mkdtempSync(path.join(os.tmpdir(), 'surge-results-outside-'));
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    const r = result();
    mkdirSync(path.join(dir, 'load-a'), { recursive: true });
    const target = path.join(outside, 'target.json');
    writeFileSync(target, '');
    symlinkSync(target, path.join(dir, 'load-a', `${r.messageId}.json`));
    const error = await sink.writeIfAbsent(r).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_NOT_WRITABLE');
    expect(readFileSync(target, 'utf8')).toBe('');
  });

  it('reports a corrupt stored result', async () => {
    const { sink, dir } = await openSink();
    const r = result();
    await sink.writeIfAbsent(r);
    chmodSync(path.join(dir, 'load-a', `${r.messageId}.json`), 0o644);
    writeFileSync(path.join(dir, 'load-a', `${r.messageId}.json`), '{"half":');
    const error = await sink.read(r).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_CORRUPT');
  });

  it('refuses calls after close', async () => {
    const { sink } = await openSink();
    await sink.close();
    const error = await sink.writeIfAbsent(result()).catch((e: unknown) => e);
    expect(isResultError(error) && error.code).toBe('RESULTS_CLOSED');
  });
});

describe('result names', () => {
  it('round-trips and rejects anything else', () => {
    const key = { loadId: 'load.1_x-y', messageId: randomUUID() };
    expect(parseResultName(resultName(key))).toEqual(key);
    expect(parseResultName('load/.x.tmp')).toBeUndefined();
    expect(parseResultName('../x/' + randomUUID() + '.json')).toBeUndefined();
    expect(parseResultName('a/b/' + randomUUID() + '.json')).toBeUndefined();
  });
});
