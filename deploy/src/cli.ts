/**
 * `npm run check-manifests -- FILE…`: every manifest check on rendered YAML (`kubectl kustomize …`
 * output); `-` reads standard input. All files are checked together, so references may cross files.
 *
 * Output: one line per problem, `FILE: Kind/namespace/name FIELD: [rule] message`, and exit 1; or
 * one summary line and exit 0. A usage, read or parse error is one line on stderr and exit 2.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { checkManifests } from './check.ts';
import { describe, formatProblem } from './problems.ts';
import { parseManifests, type K8sObject } from './render.ts';
import { KEDA_RELEASE_LINE, KUBERNETES_MINOR } from './schemas.ts';

const USAGE = 'usage: npm run check-manifests -- FILE… (rendered YAML, e.g. kubectl kustomize <overlay> > rendered.yaml; "-" reads stdin)';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the checks; returns the exit code. `cwd` resolves relative paths (npm run sets INIT_CWD to where it was called). */
export async function main(args: string[], cwd: string, out: (line: string) => void, err: (line: string) => void): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    out(USAGE);
    return 0;
  }
  const files = args.filter((a) => a !== '--');
  const option = files.find((a) => a.startsWith('-') && a !== '-');
  if (files.length === 0 || option) {
    err(option ? `check-manifests: unknown option ${option}; ${USAGE}` : `check-manifests: no file given; ${USAGE}`);
    return 2;
  }
  const objects: K8sObject[] = [];
  const fileOf = new Map<string, string>();
  for (const file of files) {
    const name = file === '-' ? '<stdin>' : file;
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(path.resolve(cwd, file), 'utf8');
    } catch (error) {
      err(`check-manifests: cannot read ${name}: ${(error as Error).message}`);
      return 2;
    }
    let parsed: K8sObject[];
    try {
      parsed = parseManifests(text, name);
    } catch (error) {
      err(`check-manifests: ${(error as Error).message.replace(/:?\n[\s\S]*/, '')}`);
      return 2;
    }
    if (parsed.length === 0) {
      err(`check-manifests: ${name} holds no Kubernetes object`);
      return 2;
    }
    for (const obj of parsed) if (!fileOf.has(describe(obj))) fileOf.set(describe(obj), name);
    objects.push(...parsed);
  }
  const problems = await checkManifests(objects);
  for (const p of problems) out(formatProblem(p, fileOf.get(p.object) ?? files.map((f) => (f === '-' ? '<stdin>' : f)).join(',')));
  if (problems.length > 0) {
    err(`check-manifests: ${problems.length} problem(s) in ${new Set(problems.map((p) => p.object)).size} object(s)`);
    return 1;
  }
  out(
    `check-manifests: ${objects.length} objects in ${files.length} file(s) pass (Kubernetes ${KUBERNETES_MINOR} schemas, KEDA ${KEDA_RELEASE_LINE} CRDs and scaler parameters, ports, sentinels, Surge invariants)`,
  );
  return 0;
}

if (import.meta.main) {
  const code = await main(
    process.argv.slice(2),
    process.env.INIT_CWD ?? process.cwd(),
    (l) => console.log(l),
    (l) => console.error(l),
  );
  process.exitCode = code;
}
