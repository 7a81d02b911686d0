/** Checks of a runbook's printed plan (its `--dry-run` output): what a reader of the plan must be able to trust. */

/** The `+ ` lines: the commands the script would run, as printed by lib.sh's wrappers. */
export function planCommands(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line.startsWith('+ '));
}

/** One line per problem: an empty value (`--name ''`, `KEY=`), an unexpanded `$VAR`, a missing header. */
export function planProblems(stdout: string, prefix: string): string[] {
  const problems: string[] = [];
  const lines = stdout.split('\n');
  const firstCommand = lines.findIndex((line) => line.startsWith('+ '));
  const header = lines.slice(0, firstCommand < 0 ? lines.length : firstCommand).join('\n');
  if (!header.includes(`# prefix ${prefix}`)) problems.push(`the prefix ${prefix} is not printed before the first command`);
  if (!new RegExp(`#\\s+[A-Z_]+=\\S*${prefix}`).test(header))
    problems.push('no derived name (VAR=…prefix…) is printed before the first command');
  const commands = planCommands(stdout);
  if (commands.length === 0) problems.push('no command printed');
  for (const command of commands) {
    if (/(^|\s)(''|"")(\s|$)/.test(command) || /\s--?[A-Za-z][\w-]*=(''|"")?(\s|$)/.test(command)) problems.push(`empty value: ${command}`);
    if (/\$[A-Za-z_{(]/.test(command)) problems.push(`unexpanded shell variable: ${command}`);
  }
  return problems;
}
