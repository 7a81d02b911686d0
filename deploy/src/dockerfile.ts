/**
 * Static checks of a Dockerfile, for what a build on the stand-in base cannot show: the default base
 * is pinned by version (and digest), dependencies come from a separate stage, and the stage a
 * build selects (build args resolved, `FROM <stage>` chains followed) ends as a non-root USER with
 * an exec-form command that starts node directly (PID 1 receives SIGTERM; `npm start` would
 * swallow it). The real build and run of every image is the e2e images test.
 */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** Instructions with line continuations joined and comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buffer = '';
  let start = 0;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (buffer === '' && (line === '' || line.startsWith('#'))) continue;
    if (buffer === '') start = i + 1;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      continue;
    }
    buffer += line;
    const match = /^(\S+)\s*(.*)$/.exec(buffer);
    if (match?.[1]) out.push({ keyword: match[1].toUpperCase(), args: match[2] ?? '', line: start });
    buffer = '';
  }
  return out;
}

const PINNED = /^[\w.\-/:]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[a-f0-9]{64})?$/;

interface Stage {
  /** the FROM argument, build args substituted */
  from: string;
  name: string | undefined;
  line: number;
  instructions: Instruction[];
}

export interface DockerfileCheckOptions {
  /** `--build-arg` values, over the defaults of the global ARGs */
  buildArgs?: Record<string, string>;
}

function stagesOf(text: string, buildArgs: Record<string, string>): Stage[] {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of parseDockerfile(text)) {
    if (ins.keyword === 'ARG' && stages.length === 0) {
      const [name, value] = ins.args.split('=', 2).map((p) => p.trim());
      if (name) args.set(name, buildArgs[name] ?? (value ?? '').replace(/^"|"$/g, ''));
    } else if (ins.keyword === 'FROM') {
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const from = (parts[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? `$${n}`);
      const name = parts.length >= 3 && parts[1]?.toUpperCase() === 'AS' ? parts[2]!.toLowerCase() : undefined;
      stages.push({ from, name, line: ins.line, instructions: [] });
    } else stages.at(-1)?.instructions.push(ins);
  }
  return stages;
}

/** The stage a build selects (the last) and the stages it is built `FROM`, base first. */
function selectedChain(stages: Stage[]): Stage[] {
  const chain: Stage[] = [];
  const byName = (name: string) => stages.find((s) => s.name === name.toLowerCase());
  for (let stage = stages.at(-1); stage && !chain.includes(stage); stage = byName(stage.from)) chain.unshift(stage);
  return chain;
}

export function checkDockerfile(text: string, options: DockerfileCheckOptions = {}): string[] {
  const problems: string[] = [];
  const stages = stagesOf(text, options.buildArgs ?? {});
  const names = new Set(stages.map((s) => s.name).filter(Boolean));
  for (const stage of stages) {
    if (!names.has(stage.from.toLowerCase()) && !PINNED.test(stage.from))
      problems.push(`line ${stage.line}: base image ${stage.from} is not pinned to a full version (x.y.z), optionally with a digest`);
  }
  if (stages.length < 2) problems.push('not multi-stage: dependencies should be installed in a separate stage');
  const final = selectedChain(stages).flatMap((s) => s.instructions);
  const user = final
    .filter((i) => i.keyword === 'USER')
    .at(-1)
    ?.args.split(':')[0]
    ?.trim();
  if (!user) problems.push('final stage has no USER: the container would run as root');
  else if (user === 'root' || user === '0') problems.push(`final stage runs as ${user}`);
  else if (!/^\d+$/.test(user)) problems.push(`final stage USER ${user} is not numeric: runAsNonRoot cannot verify a name`);
  const commands = final.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT');
  if (commands.length === 0) problems.push('final stage has no CMD or ENTRYPOINT');
  for (const cmd of commands) {
    let argv: unknown;
    try {
      argv = JSON.parse(cmd.args);
    } catch {
      argv = undefined;
    }
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string'))
      problems.push(`line ${cmd.line}: ${cmd.keyword} is not exec form (a JSON array): a shell would be PID 1`);
    else if (argv[0] !== 'node')
      problems.push(`line ${cmd.line}: ${cmd.keyword} starts ${String(argv[0])}, not node (npm/sh do not forward SIGTERM)`);
  }
  return problems;
}

/** The EXPOSEd ports of the stage a build with `buildArgs` selects (its whole FROM chain). */
export function exposedPorts(text: string, buildArgs: Record<string, string> = {}): string[] {
  return selectedChain(stagesOf(text, buildArgs)).flatMap((s) =>
    s.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/).filter(Boolean)),
  );
}
