/**
 * Permission cases that hold for root too: root reads and writes through any permission bits, so
 * under root the code under test runs in a child process as the unprivileged user nobody (65534),
 * for whom chmod is binding. Under any other user it runs in a child as that user.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

const nobody = 65534;
const isRoot = process.getuid?.() === 0;

/** Lets the unprivileged child reach `dir` (and the folders above it, which mkdtemp makes 0700). */
export function openToOthers(dir: string): void {
  fs.chmodSync(dir, 0o755);
}

/**
 * Runs `body` (the text of an async function body; `require` and `args` in scope) in a child process
 * without root's permission overrides, and returns what it returned (JSON) or what it threw.
 */
export function runUnprivileged<T>(body: string, args: unknown[]): { value?: T; error?: { name: string; message: string; exitCode?: number } } {
  const script = `
    const args = JSON.parse(process.argv[1]);
    (async () => { ${body} })().then(
      (value) => process.stdout.write(JSON.stringify({ value })),
      (error) => process.stdout.write(JSON.stringify({ error: { name: error.name, message: error.message, exitCode: error.exitCode } })),
    );`;
  const child = spawnSync(process.execPath, ['-e', script, JSON.stringify(args)], {
    encoding: 'utf8',
    cwd: '/',
    ...(isRoot ? { uid: nobody, gid: nobody } : {}),
  });
  if (child.status !== 0 || !child.stdout) throw new Error(`unprivileged child failed (status ${child.status}): ${child.stderr}`);
  return JSON.parse(child.stdout);
}
