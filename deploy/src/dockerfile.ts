/**
 * Static checks of a Dockerfile: pinned base images, a non-root final USER, exec-form CMD/ENTRYPOINT
 * that starts node directly (PID 1 receives SIGTERM; `npm start` would swallow it).
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

export function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const instructions = parseDockerfile(text);
  const args = new Map<string, string>();
  const stageStarts: number[] = [];
  for (const [i, ins] of instructions.entries()) {
    if (ins.keyword === 'ARG' && stageStarts.length === 0) {
      const [name, value] = ins.args.split('=', 2);
      if (name && value) args.set(name.trim(), value.trim().replace(/^"|"$/g, ''));
    }
    if (ins.keyword === 'FROM') {
      stageStarts.push(i);
      const parts = ins.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const image = (parts[0] ?? '').replace(/\$\{?(\w+)\}?/g, (_, n: string) => args.get(n) ?? `$${n}`);
      const stageNames = instructions.slice(0, i).filter((p) => p.keyword === 'FROM').map((p) => p.args.split(/\s+/).pop()?.toLowerCase());
      if (!stageNames.includes(image.toLowerCase()) && !PINNED.test(image)) problems.push(`line ${ins.line}: base image ${image} is not pinned to a full version (x.y.z), optionally with a digest`);
    }
  }
  if (stageStarts.length < 2) problems.push('not multi-stage: dependencies should be installed in a separate stage');
  const final = instructions.slice(stageStarts.at(-1) ?? 0);
  const users = final.filter((i) => i.keyword === 'USER');
  const user = users.at(-1)?.args.split(':')[0]?.trim();
  if (!user) problems.push('final stage has no USER: the container would run as root');
  else if (user === 'root' || user === '0') problems.push(`final stage runs as ${user}`);
  const commands = final.filter((i) => i.keyword === 'CMD' || i.keyword === 'ENTRYPOINT');
  if (commands.length === 0) problems.push('final stage has no CMD or ENTRYPOINT');
  for (const cmd of commands) {
    let argv: unknown;
    try {
      argv = JSON.parse(cmd.args);
    } catch {
      argv = undefined;
    }
    if (!Array.isArray(argv) || !argv.every((a) => typeof a === 'string')) problems.push(`line ${cmd.line}: ${cmd.keyword} is not exec form (a JSON array): a shell would be PID 1`);
    else if (argv[0] !== 'node') problems.push(`line ${cmd.line}: ${cmd.keyword} starts ${String(argv[0])}, not node (npm/sh do not forward SIGTERM)`);
  }
  return problems;
}
