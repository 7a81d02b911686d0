import path from 'node:path';

/** The repository root (this package lives in `<root>/e2e`). */
export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');

export const appDir = (app: string): string => path.join(REPO_ROOT, 'apps', app);
