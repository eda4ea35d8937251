import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tar from 'tar';
import { RuntimeFailure, UsageError } from '../errors';
import type { JobEvent } from './job-events';
import type { JobStatus } from './job-status';

/** `finetune submit` and `finetune jobs`: the job API over HTTP, with the bearer token when there is one. */
export class JobClient {
  constructor(
    private readonly api: string,
    private readonly token: string | undefined,
  ) {}

  private async request(method: string, route: string, body?: { json?: unknown; form?: FormData }, headers: Record<string, string> = {}): Promise<Response> {
    const url = new URL(route, this.api);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...(body?.json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body?.json !== undefined ? JSON.stringify(body.json) : body?.form,
      });
    } catch (error) {
      throw new RuntimeFailure(`Cannot reach the job API at ${this.api} (${(error as Error).cause ?? (error as Error).message}). Start it with finetune api --redis URL, or pass --api URL.`);
    }
    if (!response.ok) {
      const text = await response.text();
      let message = text;
      try {
        message = JSON.parse(text).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      const error = `${method} ${url.pathname} answered ${response.status}: ${message}`;
      throw response.status >= 400 && response.status < 500 ? new UsageError(error) : new RuntimeFailure(error);
    }
    return response;
  }

  /** A job on a data folder the workers can read (under the API's data roots). */
  async submitFolder(name: string, dataDir: string, overrides: Record<string, string | number | boolean>): Promise<{ id: string }> {
    return (await this.request('POST', '/v1/jobs', { json: { name, data: path.resolve(dataDir), config: overrides } })).json() as Promise<{ id: string }>;
  }

  /** A job on uploaded data: a .tar/.tar.gz, or a folder packed on the fly. */
  async submitUpload(name: string, source: string, overrides: Record<string, string | number | boolean>): Promise<{ id: string }> {
    if (!fs.existsSync(source)) throw new UsageError(`Received --upload ${source}, which does not exist. Expected a data folder or a .tar/.tar.gz of one.`);
    let archive = source;
    let packed: string | undefined;
    if (fs.statSync(source).isDirectory()) {
      packed = fs.mkdtempSync(path.join(os.tmpdir(), 'finetune-upload-'));
      archive = path.join(packed, 'data.tar.gz');
      await tar.c({ gzip: true, file: archive, cwd: source, portable: true }, fs.readdirSync(source));
    }
    try {
      const form = new FormData();
      form.set('name', name);
      form.set('config', JSON.stringify(overrides));
      form.set('archive', await fs.openAsBlob(archive), path.basename(archive));
      return (await this.request('POST', '/v1/jobs', { form })).json() as Promise<{ id: string }>;
    } finally {
      if (packed) fs.rmSync(packed, { recursive: true, force: true });
    }
  }

  async status(id: string): Promise<JobStatus> {
    return (await this.request('GET', `/v1/jobs/${encodeURIComponent(id)}`)).json() as Promise<JobStatus>;
  }

  async list(): Promise<{ jobs: JobStatus[] }> {
    return (await this.request('GET', '/v1/jobs')).json() as Promise<{ jobs: JobStatus[] }>;
  }

  async cancel(id: string): Promise<{ id: string; state: string }> {
    return (await this.request('DELETE', `/v1/jobs/${encodeURIComponent(id)}`)).json() as Promise<{ id: string; state: string }>;
  }

  /** Calls `onEvent` for each server-sent event of the job until the stream ends (the job finished). */
  async follow(id: string, onEvent: (event: JobEvent) => void): Promise<void> {
    const response = await this.request('GET', `/v1/jobs/${encodeURIComponent(id)}/events`, undefined, { accept: 'text/event-stream' });
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const message = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = message
          .split('\n')
          .filter((line) => line.startsWith('data: '))
          .map((line) => line.slice(6))
          .join('\n');
        if (data) onEvent(JSON.parse(data) as JobEvent);
      }
    }
  }
}
