import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig, schemaLeaves, type ConfigSources, type ResolvedConfig } from '../../src/config/load-config';
import { ConfigError } from '../../src/errors';

let workDir: string;
let configsDir: string;

/** A configs folder of our own, so that the real configs/ can change without touching these tests. */
function writeJson(file: string, content: unknown): string {
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

function load(sources: ConfigSources = {}): ResolvedConfig {
  return loadConfig({ configsDir, environment: {}, ...sources });
}

/** Origins name files relative to the working directory; resolve them to compare with the file written. */
function originFile(resolved: ResolvedConfig, key: string): string {
  return path.resolve(resolved.origins[key]);
}

function configError(run: () => unknown): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.exitCode, 2);
  return caught;
}

function assertMentions(message: string, ...parts: string[]): void {
  for (const part of parts) assert.ok(message.includes(part), `message lacks "${part}":\n${message}`);
}

before(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-config-'));
  configsDir = path.join(workDir, 'configs');
  fs.mkdirSync(configsDir);
  // Each layer sets the keys of every layer above it, so each key shows which layer won.
  writeJson(path.join(configsDir, 'default.json'), { train: { epochs: 2, batchSize: 2, seed: 2, patience: 2 } });
  writeJson(path.join(configsDir, 'staging.json'), { train: { batchSize: 3, seed: 3, patience: 3 } });
  writeJson(path.join(configsDir, 'quick.json'), { train: { epochs: 5 }, preprocess: { fit: 'contain' } });
});

after(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
});

describe('precedence: default < configs/<env>.json < --config file < FINETUNE_* variable < flag', () => {
  test('with nothing but the schema, every value is the schema default and says so', () => {
    const empty = path.join(workDir, 'empty-configs');
    fs.mkdirSync(empty);
    writeJson(path.join(empty, 'default.json'), {});
    writeJson(path.join(empty, 'development.json'), {});
    const resolved = loadConfig({ configsDir: empty, environment: {} });
    assert.equal(resolved.env, 'development', 'no env and no NODE_ENV means development');
    assert.equal(resolved.values.train.batchSize, 32);
    assert.equal(resolved.values.train.epochs, 40);
    assert.equal(resolved.values.base.id, 'mobilenet_v2');
    assert.deepEqual(Object.keys(resolved.origins).sort(), [...schemaLeaves().keys()].sort(), 'one origin per schema key');
    for (const [key, origin] of Object.entries(resolved.origins)) assert.equal(origin, 'default', key);
  });

  test('configs/default.json overrides the schema default', () => {
    const resolved = load({ env: 'quick' });
    assert.equal(resolved.values.train.seed, 2);
    assert.equal(originFile(resolved, 'train.seed'), path.join(configsDir, 'default.json'));
    assert.equal(resolved.values.train.learningRate, 0.005, 'the schema default where no file sets it');
    assert.equal(resolved.origins['train.learningRate'], 'default');
  });

  test('configs/<env>.json overrides configs/default.json', () => {
    const resolved = load({ env: 'staging' });
    assert.equal(resolved.env, 'staging');
    assert.equal(resolved.values.train.epochs, 2, 'not set by staging.json: from default.json');
    assert.equal(originFile(resolved, 'train.epochs'), path.join(configsDir, 'default.json'));
    assert.equal(resolved.values.train.batchSize, 3);
    assert.equal(originFile(resolved, 'train.batchSize'), path.join(configsDir, 'staging.json'));
  });

  test('the --config file overrides configs/<env>.json', () => {
    const extra = writeJson(path.join(workDir, 'extra.json'), { train: { seed: 4, patience: 4 } });
    const resolved = load({ env: 'staging', configFile: extra });
    assert.equal(resolved.values.train.batchSize, 3);
    assert.equal(resolved.values.train.seed, 4);
    assert.equal(resolved.values.train.patience, 4);
    assert.equal(originFile(resolved, 'train.seed'), extra);
  });

  test('a FINETUNE_* variable overrides the --config file', () => {
    const extra = writeJson(path.join(workDir, 'extra-2.json'), { train: { seed: 4, patience: 4 } });
    const resolved = load({ env: 'staging', configFile: extra, environment: { FINETUNE_TRAIN_PATIENCE: '5' } });
    assert.equal(resolved.values.train.seed, 4);
    assert.equal(resolved.values.train.patience, 5, 'the variable is coerced to a number');
    assert.equal(resolved.origins['train.patience'], 'env FINETUNE_TRAIN_PATIENCE');
  });

  test('a flag overrides the FINETUNE_* variable', () => {
    const extra = writeJson(path.join(workDir, 'extra-3.json'), { train: { patience: 4 } });
    const resolved = load({
      env: 'staging',
      configFile: extra,
      environment: { FINETUNE_TRAIN_PATIENCE: '5', FINETUNE_TRAIN_SEED: '5' },
      flags: { patience: '6' },
    });
    assert.equal(resolved.values.train.patience, 6);
    assert.equal(resolved.origins['train.patience'], 'flag --patience');
    assert.equal(resolved.values.train.seed, 5);
    assert.equal(resolved.origins['train.seed'], 'env FINETUNE_TRAIN_SEED');
    assert.equal(resolved.values.train.batchSize, 3);
    assert.equal(originFile(resolved, 'train.batchSize'), path.join(configsDir, 'staging.json'));
    assert.equal(resolved.values.train.epochs, 2);
    assert.equal(originFile(resolved, 'train.epochs'), path.join(configsDir, 'default.json'));
    assert.equal(resolved.values.train.dropout, 0.2);
    assert.equal(resolved.origins['train.dropout'], 'default');
  });

  test('string and enum flags are taken as given', () => {
    const resolved = load({ env: 'staging', flags: { fit: 'contain', base: './my-model', 'hub-url': 'http://127.0.0.1:8080' } });
    assert.equal(resolved.values.preprocess.fit, 'contain');
    assert.equal(resolved.values.base.id, './my-model');
    assert.equal(resolved.values.base.hubUrl, 'http://127.0.0.1:8080');
    assert.equal(resolved.origins['base.id'], 'flag --base');
  });

  test('the compiled forward pass is on by default; --compiled-forward false or FINETUNE_RUNTIME_COMPILED_FORWARD=false turns it off', () => {
    assert.equal(load({ env: 'staging' }).values.runtime.compiledForward, true);
    assert.equal(load({ env: 'staging', flags: { 'compiled-forward': 'false' } }).values.runtime.compiledForward, false);
    assert.equal(load({ env: 'staging', environment: { FINETUNE_RUNTIME_COMPILED_FORWARD: 'false' } }).values.runtime.compiledForward, false);
  });
});

describe('choosing the environment', () => {
  test('NODE_ENV picks configs/<env>.json when env is not given', () => {
    const resolved = load({ environment: { NODE_ENV: 'quick' } });
    assert.equal(resolved.env, 'quick');
    assert.equal(resolved.values.train.epochs, 5);
    assert.equal(resolved.values.preprocess.fit, 'contain');
    assert.equal(originFile(resolved, 'preprocess.fit'), path.join(configsDir, 'quick.json'));
  });

  test('an explicit env wins over NODE_ENV', () => {
    const resolved = load({ env: 'staging', environment: { NODE_ENV: 'quick' } });
    assert.equal(resolved.env, 'staging');
    assert.equal(resolved.values.preprocess.fit, 'cover');
  });

  test('an unknown environment is refused, listing the available ones', () => {
    const error = configError(() => load({ env: 'nope' }));
    assertMentions(error.message, '"nope"', 'staging', 'quick');
    const fromNodeEnv = configError(() => load({ environment: { NODE_ENV: 'prod' } }));
    assertMentions(fromNodeEnv.message, '"prod"', 'staging', 'quick');
  });
});

describe('refusals', () => {
  test('an unknown key in a file is a ConfigError naming the key', () => {
    const file = writeJson(path.join(workDir, 'typo.json'), { train: { batchsize: 8 } });
    const error = configError(() => load({ env: 'staging', configFile: file }));
    assertMentions(error.message, 'train.batchsize', 'unknown key', 'train.batchSize');
  });

  test('an unknown top-level key in the environment file is refused too', () => {
    const dir = path.join(workDir, 'typo-configs');
    fs.mkdirSync(dir);
    writeJson(path.join(dir, 'default.json'), {});
    writeJson(path.join(dir, 'typo.json'), { trainig: { epochs: 3 } });
    const error = configError(() => loadConfig({ configsDir: dir, env: 'typo', environment: {} }));
    assertMentions(error.message, 'trainig.epochs', 'unknown key');
  });

  test('an unknown FINETUNE_ variable is a ConfigError naming it', () => {
    const error = configError(() => load({ env: 'staging', environment: { FINETUNE_TRAIN_BATCHSIZE: '8' } }));
    assertMentions(error.message, 'FINETUNE_TRAIN_BATCHSIZE', 'FINETUNE_TRAIN_BATCH_SIZE');
  });

  test('variables not starting with FINETUNE_ are ignored', () => {
    const resolved = load({ env: 'staging', environment: { HOME: '/root', TRAIN_EPOCHS: '0' } });
    assert.equal(resolved.values.train.epochs, 2);
  });

  const invalid: { name: string; sources: ConfigSources; parts: string[] }[] = [
    { name: 'batch size -1 (flag)', sources: { flags: { 'batch-size': '-1' } }, parts: ['train.batchSize', '-1', 'positive integer', 'flag --batch-size'] },
    {
      name: 'batch size -1 (variable)',
      sources: { environment: { FINETUNE_TRAIN_BATCH_SIZE: '-1' } },
      parts: ['train.batchSize', '-1', 'positive integer', 'env FINETUNE_TRAIN_BATCH_SIZE'],
    },
    {
      name: 'validation fraction 1.5',
      sources: { flags: { 'validation-fraction': '1.5' } },
      parts: ['data.validationFraction', '1.5', '[0, 1)'],
    },
    { name: 'dropout 1', sources: { flags: { dropout: '1' } }, parts: ['train.dropout', 'received 1', '[0, 1)'] },
    { name: 'hiddenUnits 3', sources: { flags: { 'hidden-units': '3' } }, parts: ['train.hiddenUnits', '3', 'power of two'] },
    { name: "fit 'stretch'", sources: { flags: { fit: 'stretch' } }, parts: ['preprocess.fit', 'stretch', 'cover', 'contain'] },
    { name: "hubUrl 'not a url'", sources: { flags: { 'hub-url': 'not a url' } }, parts: ['base.hubUrl', 'not a url', 'URL'] },
    { name: 'serve worker nice 20 (flag)', sources: { flags: { 'worker-nice': '20' } }, parts: ['serve.workerNice', '20', 'an integer in 0..19'] },
    {
      name: 'serve worker nice -1 (variable)',
      sources: { environment: { FINETUNE_SERVE_WORKER_NICE: '-1' } },
      parts: ['serve.workerNice', '-1', 'an integer in 0..19', 'env FINETUNE_SERVE_WORKER_NICE'],
    },
    { name: 'serve worker nice 2.5 (flag)', sources: { flags: { 'worker-nice': '2.5' } }, parts: ['serve.workerNice', '2.5', 'nice steps'] },
    { name: 'learning rate -0.1', sources: { flags: { 'learning-rate': '-0.1' } }, parts: ['train.learningRate', '-0.1', 'a number > 0'] },
  ];
  for (const { name, sources, parts } of invalid) {
    test(`invalid value refused with key, value and what is expected: ${name}`, () => {
      const error = configError(() => load({ env: 'staging', ...sources }));
      assertMentions(error.message, ...parts);
    });
  }

  test('an invalid value in a file names the file it came from', () => {
    const file = writeJson(path.join(workDir, 'negative.json'), { train: { batchSize: -1 } });
    const error = configError(() => load({ env: 'staging', configFile: file }));
    assertMentions(error.message, 'train.batchSize', '-1', 'positive integer', 'negative.json');
  });

  // convict itself names a rejected value only when it is truthy; these are restated as "received".
  const falsy: { name: string; sources: ConfigSources; parts: string[] }[] = [
    { name: 'epochs 0 (variable)', sources: { environment: { FINETUNE_TRAIN_EPOCHS: '0' } }, parts: ['train.epochs', '0', 'positive integer'] },
    { name: 'batch size abc (flag)', sources: { flags: { 'batch-size': 'abc' } }, parts: ['train.batchSize', 'abc', 'positive integer'] },
  ];
  for (const { name, sources, parts } of falsy) {
    test(`invalid falsy value is refused: ${name}`, () => {
      configError(() => load({ env: 'staging', ...sources }));
    });
    test(`invalid falsy value is named in the message: ${name}`, () => {
      const error = configError(() => load({ env: 'staging', ...sources }));
      assert.match(error.message, new RegExp(`${parts[0].replace('.', '\\.')}.*(value was|received).*(${parts[1]}|NaN)`, 'i'));
    });
  }

  test('a file that is not JSON is a ConfigError naming the file', () => {
    const file = path.join(workDir, 'broken.json');
    fs.writeFileSync(file, '{ "train": { epochs: 3 }');
    const error = configError(() => load({ env: 'staging', configFile: file }));
    assertMentions(error.message, file, 'JSON');
  });

  test('a JSON file that is not an object is a ConfigError', () => {
    const file = path.join(workDir, 'array.json');
    fs.writeFileSync(file, '[1, 2]');
    const error = configError(() => load({ env: 'staging', configFile: file }));
    assertMentions(error.message, file, 'JSON object');
  });

  test('a missing --config file is a ConfigError naming it', () => {
    const file = path.join(workDir, 'missing.json');
    const error = configError(() => load({ env: 'staging', configFile: file }));
    assertMentions(error.message, file);
  });
});

describe("the project's own configs/", () => {
  for (const env of ['default', 'development', 'test', 'production']) {
    test(`configs/${env}.json loads without error`, () => {
      const resolved = loadConfig({ env, environment: {} });
      assert.equal(resolved.env, env);
      assert.ok(resolved.values.train.epochs > 0);
    });
  }

  test('the test environment sets what configs/test.json says', () => {
    const file = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'configs', 'test.json'), 'utf8'));
    const resolved = loadConfig({ env: 'test', environment: {} });
    assert.equal(resolved.values.train.epochs, file.train.epochs);
    assert.match(resolved.origins['train.epochs'], /configs[\\/]test\.json$/);
  });
});

describe('names, not paths: the environment and export.name', () => {
  test('NODE_ENV=../x is refused, even when the JSON file it points at exists', () => {
    // A JSON file outside configs/ that the path would reach.
    writeJson(path.join(workDir, 'evil.json'), { serve: { host: '0.0.0.0' } });
    const fromVariable = configError(() => load({ environment: { NODE_ENV: '../evil' } }));
    assertMentions(fromVariable.message, 'Received environment "../evil" (from NODE_ENV)', 'not a path', 'configs/<env>.json');
    const fromFlag = configError(() => load({ env: '../../x' }));
    assertMentions(fromFlag.message, 'Received environment "../../x" (from --env)');
    assert.equal(load({ env: 'quick' }).env, 'quick');
  });

  test('export.name ../x (flag, variable or file) is refused; a plain name and empty are accepted', () => {
    for (const sources of [{ flags: { name: '../x' } }, { environment: { FINETUNE_EXPORT_NAME: 'a/b' } }, { flags: { name: '..' } }] as ConfigSources[]) {
      const error = configError(() => load({ env: 'quick', ...sources }));
      assertMentions(error.message, 'export.name', 'not a path', 'received "');
    }
    assert.equal(load({ env: 'quick', flags: { name: 'cats-v2.1_x' } }).values.export.name, 'cats-v2.1_x');
    assert.equal(load({ env: 'quick' }).values.export.name, '');
  });
});
