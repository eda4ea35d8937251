import fs from 'node:fs';
import path from 'node:path';
import type { FinetuneConfig } from '../../src/config/schema';
import type { ExportMetadata } from '../../src/export/export-metadata';
import { writeExport } from '../../src/export/write-export';
import { TrainPipeline } from '../../src/pipeline/train-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

export interface SmallExport {
  data: string;
  config: FinetuneConfig;
  /** <out>/<name>: what `serve --model-base-path` takes. */
  basePath: string;
  exportDir: string;
  labels: string[];
}

/** A real export, kept small: 3 classes x 12 sample images at 96x96, a few epochs. */
export async function trainSmallExport(name: string, flags: Record<string, string> = {}): Promise<SmallExport> {
  const data = copySample({ classes: 3, perClass: 12 });
  const config = testConfig({ epochs: '6', patience: '6', 'image-size': '96', name, ...flags });
  const result = await testContainer(config).get(TrainPipeline).run(data);
  return { data, config, basePath: path.dirname(result.exportDir), exportDir: result.exportDir, labels: result.labels };
}

/** Publishes a copy of an export as the next version under basePath, through the same atomic writer train uses. */
export async function publishCopy(exportDir: string, basePath = path.dirname(exportDir)): Promise<{ dir: string; version: number }> {
  const metadata: ExportMetadata = JSON.parse(fs.readFileSync(path.join(exportDir, 'metadata.json'), 'utf8'));
  const { version: _previous, ...rest } = metadata;
  return writeExport({
    outDir: path.dirname(basePath),
    name: path.basename(basePath),
    writeModel: async (dir) => {
      for (const file of fs.readdirSync(exportDir)) if (file === 'model.json' || file.endsWith('.bin')) fs.copyFileSync(path.join(exportDir, file), path.join(dir, file));
    },
    metadata: rest,
    verify: async () => {},
  });
}

/** The value of one sample line of a Prometheus text exposition, 0 when absent. */
export function metricValue(text: string, sample: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

export type Json = any;

/** One HTTP exchange: status, body (parsed when JSON) and headers. */
export async function call(url: string, init: RequestInit = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: Json = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Prometheus text stays text.
  }
  return { status: response.status, body, headers: response.headers };
}

export const postJson = (url: string, body: unknown) => call(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
