/**
 * Assembles what an app's image would contain without a Docker engine, by following its Dockerfile
 * instruction by instruction: each stage gets its own folder as its filesystem root; WORKDIR, COPY
 * (from the build context or `--from` another stage), ENV and CMD/ENTRYPOINT are applied; RUN may
 * only run npm, which runs for real in the stage's working folder. An instruction it does not know
 * fails the assembly, so a changed Dockerfile cannot silently drift from this check.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';

export class ImageAssemblyError extends Error {
  readonly code = 'E2E_IMAGE_ASSEMBLY_FAILED';
  readonly retryable = false;
}

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with line continuations joined and comments dropped. */
export function parseInstructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line.startsWith('#') || (buffer === '' && line === '')) continue;
    if (buffer === '') start = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      continue;
    }
    buffer += line;
    const match = /^(\S+)\s*(.*)$/.exec(buffer);
    if (match) out.push({ keyword: match[1]!.toUpperCase(), args: match[2] ?? '', line: start });
    buffer = '';
  }
  return out;
}

export interface AssembledImage {
  /** The final stage's working folder: where the container command runs. */
  workdir: string;
  /** ENV of the final stage. */
  env: Record<string, string>;
  /** ENTRYPOINT + CMD, exec form. */
  argv: string[];
  /** What was done, one line per instruction, for the test log. */
  steps: string[];
}

export interface AssembleOptions {
  dockerfile: string;
  /** The build context (holds `dist/`). */
  context: string;
  /** Empty folder under which each stage gets its root filesystem. */
  root: string;
  /** Runs one npm command (`args` without the leading `npm`) in `cwd`. */
  runNpm: (args: string[], cwd: string) => Promise<void>;
  /** Changes an npm command before it runs (e.g. add `--prefer-offline`); returns undefined to skip it. */
  adjustNpm?: (args: string[]) => string[] | undefined;
}

interface Stage {
  name: string | undefined;
  root: string;
  cwd: string;
  env: Record<string, string>;
  argv: { entrypoint: string[]; cmd: string[] };
}

function execForm(ins: Instruction): string[] {
  let argv: unknown;
  try {
    argv = JSON.parse(ins.args);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) throw new ImageAssemblyError(`line ${ins.line}: ${ins.keyword} is not exec form`);
  return argv as string[];
}

async function isDirectory(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

export async function assembleImage(options: AssembleOptions): Promise<AssembledImage> {
  const stages: Stage[] = [];
  const steps: string[] = [];
  const moved: string[] = [];
  const current = (ins: Instruction): Stage => {
    const stage = stages.at(-1);
    if (!stage) throw new ImageAssemblyError(`line ${ins.line}: ${ins.keyword} before FROM`);
    return stage;
  };
  // A container path inside a stage's root folder.
  const inStage = (stage: Stage, p: string): string => path.join(stage.root, path.posix.resolve(stage.cwd, p));

  for (const ins of parseInstructions(options.dockerfile)) {
    switch (ins.keyword) {
      case 'ARG':
      case 'USER':
      case 'EXPOSE':
      case 'LABEL':
        // No effect on what the files are or how the command starts outside a container.
        break;
      case 'FROM': {
        const name = /\bAS\s+(\S+)\s*$/i.exec(ins.args)?.[1];
        const root = path.join(options.root, `stage-${stages.length}${name ? `-${name}` : ''}`);
        await mkdir(root, { recursive: true });
        stages.push({ name, root, cwd: '/', env: {}, argv: { entrypoint: [], cmd: [] } });
        steps.push(`FROM ${ins.args}`);
        break;
      }
      case 'WORKDIR': {
        const stage = current(ins);
        stage.cwd = path.posix.resolve(stage.cwd, ins.args.trim());
        await mkdir(inStage(stage, '.'), { recursive: true });
        steps.push(`WORKDIR ${stage.cwd}`);
        break;
      }
      case 'ENV': {
        const stage = current(ins);
        // `ENV a=1 b="x y"`, or the legacy `ENV a value`
        const legacy = /^(\w+)\s+(.*)$/.exec(ins.args);
        const pairs: [string, string][] = ins.args.includes('=')
          ? [...ins.args.matchAll(/(\w+)=("[^"]*"|\S*)/g)].map((m): [string, string] => [m[1]!, m[2]!.replace(/^"|"$/g, '')])
          : legacy
            ? [[legacy[1]!, legacy[2]!]]
            : [];
        for (const [key, value] of pairs) stage.env[key] = value;
        steps.push(`ENV ${ins.args}`);
        break;
      }
      case 'COPY': {
        const stage = current(ins);
        const words = ins.args.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
        if (words.some((w) => w.startsWith('--') && !w.startsWith('--from=') && !w.startsWith('--chown=') && !w.startsWith('--chmod='))) throw new ImageAssemblyError(`line ${ins.line}: unsupported COPY flag in ${ins.args}`);
        const paths = words.filter((w) => !w.startsWith('--'));
        const dest = paths.pop();
        if (!dest || paths.length === 0) throw new ImageAssemblyError(`line ${ins.line}: COPY needs a source and a destination`);
        const source = from === undefined ? undefined : stages.find((s) => s.name === from);
        if (from !== undefined && !source) throw new ImageAssemblyError(`line ${ins.line}: no stage named ${from}`);
        for (const src of paths) {
          const srcPath = source ? path.join(source.root, path.posix.resolve('/', src)) : path.join(options.context, src);
          const target = inStage(stage, dest);
          // Docker copies a directory's contents, and a file into a destination ending in / (or a folder).
          const finalTarget = !(await isDirectory(srcPath)) && (dest.endsWith('/') || (await isDirectory(target))) ? path.join(target, path.basename(srcPath)) : target;
          await mkdir(path.dirname(finalTarget), { recursive: true });
          if (moved.some((m) => srcPath === m || srcPath.startsWith(m + path.sep))) throw new ImageAssemblyError(`line ${ins.line}: ${src} is copied from ${from} twice`);
          if (source && !existsSync(finalTarget)) {
            // Between stages a move is the same as a copy as long as nothing copies that path again
            // (checked above), and for a node_modules of 15,000 files it saves most of a minute.
            await rename(srcPath, finalTarget);
            moved.push(srcPath);
          } else await cp(srcPath, finalTarget, { recursive: true, force: true });
        }
        steps.push(`COPY ${ins.args}`);
        break;
      }
      case 'RUN': {
        const stage = current(ins);
        for (const command of ins.args.split('&&').map((c) => c.trim().split(/\s+/))) {
          if (command[0] !== 'npm') throw new ImageAssemblyError(`line ${ins.line}: RUN ${command.join(' ')}: only npm commands can be followed without a container`);
          const args = options.adjustNpm ? options.adjustNpm(command.slice(1)) : command.slice(1);
          if (args === undefined) {
            steps.push(`RUN ${command.join(' ')} (skipped)`);
            continue;
          }
          steps.push(`RUN npm ${args.join(' ')}`);
          await options.runNpm(args, inStage(stage, '.'));
        }
        break;
      }
      case 'CMD':
        current(ins).argv.cmd = execForm(ins);
        steps.push(`CMD ${ins.args}`);
        break;
      case 'ENTRYPOINT':
        current(ins).argv.entrypoint = execForm(ins);
        steps.push(`ENTRYPOINT ${ins.args}`);
        break;
      default:
        throw new ImageAssemblyError(`line ${ins.line}: ${ins.keyword} is not supported by this check`);
    }
  }
  const final = stages.at(-1);
  if (!final) throw new ImageAssemblyError('the Dockerfile has no FROM');
  const argv = [...final.argv.entrypoint, ...final.argv.cmd];
  if (argv.length === 0) throw new ImageAssemblyError('the final stage has no CMD or ENTRYPOINT');
  return { workdir: inStage(final, '.'), env: final.env, argv, steps };
}

/**
 * Runs npm (whatever `npm` is on PATH) with this process's Node first on PATH, so npm and any
 * engine check see Node 24. Output is collected and included in the error when it fails.
 */
export function runNpm(args: string[], cwd: string, timeoutMs = 180_000): Promise<void> {
  return new Promise((resolve, reject) => {
    // npm passes its whole configuration to scripts as npm_* variables (workspace, local prefix…):
    // the install must not inherit the repository's, only where the cache and registry are.
    const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && key !== 'INIT_CWD' && (!key.toLowerCase().startsWith('npm_') || keep.has(key.toLowerCase()))) env[key] = value;
    }
    env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
    const child = spawn('npm', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new ImageAssemblyError(`npm ${args.join(' ')} in ${cwd} failed (code ${code}, signal ${signal}): ${output.trim().slice(-1500)}`));
    });
  });
}
