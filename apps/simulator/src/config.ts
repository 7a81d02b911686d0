/**
 * The simulator's one typed configuration: command-line flags only (it reads no environment).
 * A bad flag is one line naming it and the expected value.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimError } from '@surge/cluster-sim';

export const PROFILES_DIR = fileURLToPath(new URL('../../../libs/cluster-sim/profiles/', import.meta.url));

export interface SimulatorConfig {
  readonly overlay: string;
  /** A profile name (a file in the profiles folder) or a path to a YAML file. */
  readonly profileFile: string;
  readonly count: number;
  readonly workMs: number | undefined;
  readonly rate: number;
  readonly seed: number;
  readonly sets: readonly string[];
  readonly out: string;
  readonly pricePerNodeHour: number | undefined;
}

export const USAGE =
  'usage: npm run simulate -- --overlay <dir> --profile <aks-spot|aks-keda-addon|eks-karpenter|aks-virtual-node|local|file.yaml> [--count N] [--work-ms N] [--rate R] [--seed S] [--set path=value …] [--out DIR] [--price-per-node-hour P]';

function number(flag: string, text: string | undefined, { integer = false, min = 0 } = {}): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new SimError(
      'PROFILE_INVALID',
      `${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${JSON.stringify(text ?? '')}`,
    );
  }
  return value;
}

/** `cwd`: where relative paths start; npm scripts run at the root, so INIT_CWD is the user's folder. */
export function readConfig(argv: readonly string[], cwd: string = process.env['INIT_CWD'] ?? process.cwd()): SimulatorConfig {
  const flags = new Map<string, string>();
  const sets: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i] as string;
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new SimError('PROFILE_INVALID', `${flag}: expected --flag value (${USAGE})`);
    i += 1;
    if (flag === '--set') sets.push(value);
    else if (['--overlay', '--profile', '--count', '--work-ms', '--rate', '--seed', '--out', '--price-per-node-hour'].includes(flag))
      flags.set(flag, value);
    else throw new SimError('PROFILE_INVALID', `unknown flag ${flag} (${USAGE})`);
  }
  const overlay = flags.get('--overlay');
  const profile = flags.get('--profile');
  if (overlay === undefined) throw new SimError('OVERLAY_INVALID', `--overlay is required (${USAGE})`);
  if (profile === undefined) throw new SimError('PROFILE_INVALID', `--profile is required (${USAGE})`);
  const named = path.join(PROFILES_DIR, `${profile}.yaml`);
  const profileFile = /[./]/.test(profile) ? path.resolve(cwd, profile) : named;
  if (!existsSync(profileFile))
    throw new SimError(
      'PROFILE_INVALID',
      `--profile ${profile}: no such profile (expected aks-spot, aks-keda-addon, eks-karpenter, aks-virtual-node, local or a YAML file)`,
    );
  const seed = number('--seed', flags.get('--seed') ?? '1', { integer: true });
  return {
    overlay: path.resolve(cwd, overlay),
    profileFile,
    count: number('--count', flags.get('--count') ?? '2000', { integer: true, min: 1 }),
    workMs: flags.has('--work-ms') ? number('--work-ms', flags.get('--work-ms'), { integer: true }) : undefined,
    rate: number('--rate', flags.get('--rate') ?? '0'),
    seed,
    sets,
    out: path.resolve(cwd, flags.get('--out') ?? path.join('.surge', 'simulations', `${path.basename(profile, '.yaml')}-seed${seed}`)),
    pricePerNodeHour: flags.has('--price-per-node-hour') ? number('--price-per-node-hour', flags.get('--price-per-node-hour')) : undefined,
  };
}
