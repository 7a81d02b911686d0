/**
 * Builds one app for its container image. Run from the app folder with Node 24:
 *
 *   node ../../scripts/build-app.ts [--outdir dist]
 *
 * - bundles src/main.ts with esbuild into <outdir>/main.js (+ chunks/): ESM, platform node, target
 *   node24, code splitting so lazily imported adapters stay separate chunks;
 * - bundles workspace packages (@surge/*) and keeps every npm package external;
 * - writes <outdir>/package.json listing exactly the npm packages the bundle imports (static and
 *   dynamic imports, require calls), each at the version installed in node_modules, so that
 *   `npm install --omit=dev` in <outdir> installs what the image needs and nothing else.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';

const WORKSPACE_SCOPE = '@surge/';

class BuildAppError extends Error {
  readonly code = 'BUILD_APP_FAILED';
  readonly retryable = false;
}

/**
 * npm packages bundled into the app instead of installed beside it. typebox ships hundreds of small
 * ESM files; loading them one by one dominated a one-message worker-job's start-up (about 300 ms
 * and 20 MB measured), and it has no native parts or assets that bundling could break.
 */
const BUNDLED_NPM = new Set(['typebox']);

/** `@scope/name/sub/path` → `@scope/name`; `name/sub` → `name`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * Bare specifiers that are neither relative, absolute, builtin nor ours are npm packages: external.
 * `importers` remembers where each package was imported from, so its version is looked up the way
 * Node would resolve it there (a lib may have its own nested node_modules copy).
 */
function externalNpm(importers: Map<string, string>): Plugin {
  return {
    name: 'external-npm',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith(WORKSPACE_SCOPE)) return undefined; // resolved through the workspace symlink and bundled
        if (BUNDLED_NPM.has(packageName(args.path))) return undefined; // bundled: see BUNDLED_NPM
        if (!importers.has(packageName(args.path))) importers.set(packageName(args.path), args.resolveDir);
        // builtins and npm packages both stay imports; importedPackages() tells them apart
        return { path: args.path, external: true };
      });
    },
  };
}

/** Every npm package the bundle's outputs import, by any import kind. */
function importedPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || isBuiltin(imp.path) || imp.path.startsWith('.') || imp.path.startsWith('/')) continue;
      names.add(packageName(imp.path));
    }
  }
  return [...names].sort();
}

/** The installed version of `name`, looked up the way Node resolves packages: upwards from `fromDir`. */
async function installedVersion(name: string, fromDir: string): Promise<string> {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifest)) return (JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version;
    if (path.dirname(dir) === dir)
      throw new BuildAppError(`${name} is imported by the bundle but not installed (run npm install at the repository root)`);
  }
}

interface BuildResult {
  outdir: string;
  dependencies: Record<string, string>;
}

async function buildApp(appDir: string, outdirName = 'dist'): Promise<BuildResult> {
  const appManifest = JSON.parse(await readFile(path.join(appDir, 'package.json'), 'utf8')) as { name: string; version?: string };
  const entry = path.join(appDir, 'src', 'main.ts');
  if (!existsSync(entry)) throw new BuildAppError(`${entry} does not exist: the entry point of every app is src/main.ts`);
  const outdir = path.resolve(appDir, outdirName);
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const importers = new Map<string, string>();
  const result = await build({
    absWorkingDir: appDir,
    entryPoints: { main: entry },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    sourcemap: 'linked',
    chunkNames: 'chunks/[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    plugins: [externalNpm(importers)],
    // bundled CommonJS code calls require(); an ES module has none, so each output file creates one
    banner: {
      js: "import { createRequire as __surgeCreateRequire } from 'node:module'; const require = __surgeCreateRequire(import.meta.url);",
    },
  });
  const dependencies: Record<string, string> = {};
  for (const name of importedPackages(result.metafile)) dependencies[name] = await installedVersion(name, importers.get(name) ?? appDir);
  const distManifest = {
    name: `${appManifest.name}-image`,
    version: appManifest.version ?? '0.0.0',
    private: true,
    type: 'module',
    main: 'main.js',
    engines: { node: '>=24' },
    dependencies,
  };
  await writeFile(path.join(outdir, 'package.json'), `${JSON.stringify(distManifest, null, 2)}\n`);
  return { outdir, dependencies };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist' } } });
  try {
    const { outdir, dependencies } = await buildApp(process.cwd(), values.outdir);
    console.log(
      `built ${path.relative(process.cwd(), outdir) || '.'}/main.js; external packages: ${
        Object.entries(dependencies)
          .map(([n, v]) => `${n}@${v}`)
          .join(', ') || 'none'
      }`,
    );
  } catch (error) {
    console.error(`build-app: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
