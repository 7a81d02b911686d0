/**
 * Renders kustomizations with `kubectl kustomize` (kustomize v5 built into kubectl) and parses the
 * multi-document YAML into plain objects.
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** deploy/kustomize, resolved from this file so tests work from any working folder. */
export const KUSTOMIZE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'kustomize');
/** The repository root (deploy/..). */
export const REPO_ROOT = path.resolve(KUSTOMIZE_ROOT, '..', '..');

export class RenderError extends Error {
  readonly code = 'DEPLOY_RENDER_FAILED';
  readonly retryable = false;
}

export function parseManifests(text: string, source = 'input'): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new RenderError(`${source}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new RenderError(`${source}: a document is not an object`);
    const obj = value as K8sObject;
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new RenderError(`${source}: a document lacks apiVersion, kind or metadata.name`);
    }
    objects.push(obj);
  }
  return objects;
}

/** `kubectl kustomize <dir>` as text (what a runbook writes to rendered.yaml); the error names the folder and carries kustomize's message. */
export async function renderKustomizationText(dir: string): Promise<string> {
  try {
    const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new RenderError(`kubectl kustomize ${path.relative(REPO_ROOT, dir)} failed: ${stderr.trim()}`);
  }
}

export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  return parseManifests(await renderKustomizationText(dir), dir);
}

/** Every folder directly under `parent` that holds a kustomization.yaml. */
export async function kustomizationsUnder(parent: string): Promise<string[]> {
  const names = (await readdir(parent)).sort();
  const found: string[] = [];
  for (const name of names) {
    const dir = path.join(parent, name);
    if ((await stat(dir)).isDirectory() && (await stat(path.join(dir, 'kustomization.yaml')).catch(() => undefined))) found.push(dir);
  }
  return found;
}
