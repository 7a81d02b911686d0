/**
 * Renders a keda-local report.html to a PNG with headless Chromium (the Debian `chromium` package),
 * for the README. The page is self-contained, and Chromium runs with a fresh profile and its
 * background networking off, so rendering makes no network request.
 *
 *   node scripts/render-report-screenshot.ts <run dir or report.html> [--out docs/keda-local-report.png]
 *        [--width 980] [--height 1240]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

function fail(message: string): never {
  process.stderr.write(`render-report-screenshot: ${message}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? (args[i + 1] as string) : fallback;
};
const input = args.find((a, i) => !a.startsWith('--') && !(i > 0 && (args[i - 1] as string).startsWith('--')));
if (input === undefined)
  fail('usage: node scripts/render-report-screenshot.ts <run dir or report.html> [--out file.png] [--width 980] [--height 1240]');
const html = path.resolve(statSync(input, { throwIfNoEntry: false })?.isDirectory() ? path.join(input, 'report.html') : input);
if (!existsSync(html)) fail(`${html} does not exist (run \`npm run demo\` first)`);
const out = path.resolve(flag('out', path.join('docs', 'keda-local-report.png')));
const width = Number(flag('width', '980'));
const height = Number(flag('height', '1240'));
if (!Number.isInteger(width) || !Number.isInteger(height) || width < 200 || height < 200)
  fail('--width and --height must be integers >= 200');

const chromium = ['chromium', 'chromium-browser', '/usr/bin/chromium'].find(
  (c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0,
);
if (chromium === undefined) fail('Chromium not found: apt-get install -y chromium');

const profile = mkdtempSync(path.join(os.tmpdir(), 'surge-chromium-'));
mkdirSync(path.dirname(out), { recursive: true });
try {
  const result = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`,
      `--screenshot=${out}`,
      pathToFileURL(html).toString(),
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0 || !existsSync(out))
    fail(`Chromium failed (exit ${String(result.status)}): ${(result.stderr ?? '').split('\n').slice(-5).join(' ')}`);
  const kb = Math.round(statSync(out).size / 1024);
  process.stdout.write(`${out} (${width}×${height}, ${kb} KB)${kb >= 300 ? ' — above 300 KB: do not commit it' : ''}\n`);
} finally {
  rmSync(profile, { recursive: true, force: true });
}
