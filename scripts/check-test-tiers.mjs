// Every project with tests must sort them into the tiers the root `npm test` runs (test:unit is
// optional, test:int is not): a project with only a `test` script would silently drop out of CI.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const { workspaces } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const folders = workspaces.flatMap((pattern) =>
  pattern.endsWith('/*')
    ? readdirSync(path.join(root, pattern.slice(0, -2)), { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => path.join(pattern.slice(0, -2), e.name))
    : [pattern],
);
const missing = folders.filter((folder) => {
  const file = path.join(root, folder, 'package.json');
  if (!existsSync(file)) return false;
  const scripts = JSON.parse(readFileSync(file, 'utf8')).scripts ?? {};
  return scripts.test !== undefined && scripts['test:int'] === undefined;
});
if (missing.length > 0) {
  console.error(
    `check-test-tiers: ${missing.join(', ')}: a "test" script but no "test:int" (add "test:int", and "test:unit" for tests that start nothing)`,
  );
  process.exit(1);
}
