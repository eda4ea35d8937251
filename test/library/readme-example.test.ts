import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { copySample, temporaryDir } from '../helpers/sample-data';

/** dist/test/library -> the repository root. */
const repoRoot = path.resolve(__dirname, '..', '..', '..');
const entry = path.join(repoRoot, 'dist', 'src', 'index.js');

/** The TypeScript block between the library-example markers of README.md. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const block = readme.match(/<!-- library-example -->\s*```ts\n([\s\S]*?)```\s*<!-- \/library-example -->/);
  assert.ok(block, 'README.md has no library example between <!-- library-example --> markers');
  return block[1];
}

/** Type-checks the example against the package's declarations (as `import ... from 'finetune-pipeline'` resolves) and emits CommonJS. */
function compile(source: string, dir: string): string {
  const file = path.join(dir, 'example.ts');
  fs.writeFileSync(file, source);
  const program = ts.createProgram([file], {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    esModuleInterop: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
    baseUrl: dir,
    paths: { 'finetune-pipeline': [path.join(repoRoot, 'dist', 'src', 'index.d.ts')] },
    outDir: dir,
  });
  const emitted = program.emit();
  const problems = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  assert.deepEqual(problems, [], 'the README example compiles');
  const js = path.join(dir, 'example.js');
  // Outside the package, 'finetune-pipeline' means this build.
  fs.writeFileSync(js, fs.readFileSync(js, 'utf8').replace(/require\("finetune-pipeline"\)/, `require(${JSON.stringify(entry)})`));
  return js;
}

test("README's library example compiles and runs against the embedded sample: trains, exports, predicts", () => {
  assert.ok(fs.existsSync(entry), 'build first: dist/src/index.js');
  const dir = temporaryDir('library-example');
  const js = compile(readmeExample(), dir);
  // The example reads models/samples/fashion-mnist relative to where it runs: a small copy of it, in a folder of its own.
  const data = path.join(dir, 'models', 'samples', 'fashion-mnist');
  fs.mkdirSync(path.dirname(data), { recursive: true });
  fs.renameSync(copySample({ classes: 2, perClass: 12 }), data);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FINETUNE_')));
  const run = spawnSync(process.execPath, [js], { cwd: dir, env: { ...env, NODE_ENV: 'test', FINETUNE_PREPROCESS_IMAGE_SIZE: '96' }, encoding: 'utf8', timeout: 600_000 });
  assert.equal(run.status, 0, `exit ${run.status}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
  const exported = run.stdout.match(/^validation accuracy (\d\.\d{3}); exported (.+)$/m);
  assert.ok(exported, run.stdout);
  const exportDir = path.resolve(dir, exported[2]);
  assert.ok(fs.existsSync(path.join(exportDir, 'model.json')), `no model.json in ${exportDir}`);
  assert.match(run.stdout, /fashion-mnist\/bag\/[^:]+: (bag|dress)$/m);
});
