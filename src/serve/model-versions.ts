import fs from 'node:fs';
import path from 'node:path';
import { listVersions } from '../export/write-export';
import type { Logger } from '../logger';
import { RequestError } from './request-error';
import { ServedVersion, type BatchingOptions } from './served-version';
import { loadVersionModel, type InferenceThread, type VersionModel } from './version-model';

/** TF Serving's model_version_status entry. */
export interface VersionStatus {
  version: string;
  state: 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';
  status: { error_code: 'OK' | 'UNKNOWN'; error_message: string };
}

export interface ModelVersionsOptions {
  batching: BatchingOptions;
  pollSeconds: number;
  /** The newest version plus versions pinned by requests, loaded on demand. */
  maxLoadedVersions: number;
  logger: Logger;
  /** Where forward passes run, and on which tfjs backend. */
  inference: { thread: InferenceThread; backend: string; workers: number; compiled?: boolean };
  /** Told every time the newest served version changes. */
  onServing?: (version: number) => void;
}

/**
 * The versions of one model under its base path (<out>/<name>/<version>/). Serves the newest,
 * looks for a newer one every pollSeconds and switches to it once loaded; the old one is disposed
 * after its requests in flight end. Older versions are loaded when a request pins them, and
 * unloaded least recently used first beyond maxLoadedVersions. A version that fails to load is
 * reported in its status and the previous one keeps serving.
 */
export class ModelVersions {
  private latest: ServedVersion | undefined;
  private readonly pinned = new Map<number, ServedVersion>();
  private readonly loading = new Map<number, Promise<ServedVersion>>();
  private readonly states = new Map<number, { state: VersionStatus['state']; error?: string }>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(
    readonly basePath: string,
    private readonly options: ModelVersionsOptions,
  ) {}

  /** Loads the newest version (if any yet) and starts watching for new ones. */
  async start(): Promise<void> {
    await this.poll();
    this.scheduleNextPoll();
  }

  get ready(): boolean {
    return this.latest !== undefined;
  }

  get newestVersion(): number | undefined {
    return this.latest?.version;
  }

  /** Looks once for a version newer than the one served, and switches to it. */
  poll(): Promise<void> {
    this.polling ??= this.switchToNewest().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** Runs work on a version (the newest when none is given), held until the work ends. */
  async use<T>(version: number | undefined, work: (served: ServedVersion) => Promise<T>): Promise<T> {
    for (;;) {
      const served = version === undefined || version === this.latest?.version ? this.requireLatest() : await this.pin(version);
      // Between the load and now it may have been retired; then look again.
      if (!served.isRetired) return served.use(work);
    }
  }

  statuses(version?: number): VersionStatus[] {
    const entries = [...this.states.entries()].filter(([v]) => version === undefined || v === version).sort(([a], [b]) => b - a);
    if (version !== undefined && entries.length === 0) {
      const onDisk = listVersions(this.basePath).includes(version);
      if (!onDisk) throw this.versionNotFound(version);
      return [{ version: String(version), state: 'END', status: { error_code: 'OK', error_message: 'on disk, not loaded: a request that pins it loads it' } }];
    }
    return entries.map(([v, { state, error }]) => ({
      version: String(v),
      state,
      status: { error_code: error ? 'UNKNOWN' : 'OK', error_message: error ?? '' },
    }));
  }

  /** Stops watching and unloads every version once its requests in flight end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    const all = [this.latest, ...this.pinned.values()].filter((v): v is ServedVersion => v !== undefined);
    this.latest = undefined;
    this.pinned.clear();
    await Promise.all(all.map((served) => this.retire(served)));
  }

  private scheduleNextPoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.poll().finally(() => this.scheduleNextPoll());
    }, this.options.pollSeconds * 1000);
  }

  private async switchToNewest(): Promise<void> {
    let versions: number[];
    try {
      versions = listVersions(this.basePath);
    } catch (error) {
      this.options.logger.warn(`cannot list ${this.basePath}: ${(error as Error).message}`);
      return;
    }
    const newest = versions.at(-1);
    if (newest === undefined || newest <= (this.latest?.version ?? 0) || this.states.get(newest)?.error) return;
    let served: ServedVersion;
    try {
      served = this.pinned.get(newest) ?? (await this.load(newest));
    } catch {
      return;
    }
    if (this.stopped) {
      await this.retire(served);
      return;
    }
    this.pinned.delete(newest);
    const previous = this.latest;
    this.latest = served;
    this.options.logger.info(`serving version ${newest} of ${this.basePath}`);
    this.options.onServing?.(newest);
    if (previous) void this.retire(previous);
  }

  private requireLatest(): ServedVersion {
    if (this.latest) return this.latest;
    throw new RequestError(
      503,
      `No version of the model is loaded yet. Expected a numbered export folder under ${this.basePath} (written by finetune train --out ${path.dirname(this.basePath)} --name ${path.basename(this.basePath)}); the server looks every ${this.options.pollSeconds} s.`,
    );
  }

  private async pin(version: number): Promise<ServedVersion> {
    const loaded = this.pinned.get(version);
    if (loaded) {
      // Most recently used last.
      this.pinned.delete(version);
      this.pinned.set(version, loaded);
      return loaded;
    }
    if (!fs.existsSync(path.join(this.basePath, String(version))) || !listVersions(this.basePath).includes(version)) throw this.versionNotFound(version);
    let served: ServedVersion;
    try {
      served = await this.load(version);
    } catch (error) {
      throw new RequestError(500, `Version ${version} cannot be loaded: ${(error as Error).message}`);
    }
    if (this.stopped) {
      await this.retire(served);
      throw new RequestError(503, 'The server is shutting down.');
    }
    if (served !== this.latest && !this.pinned.has(version)) {
      this.pinned.set(version, served);
      const room = Math.max(0, this.options.maxLoadedVersions - 1);
      for (const [old, evicted] of this.pinned) {
        if (this.pinned.size <= room || old === version) break;
        this.pinned.delete(old);
        void this.retire(evicted);
      }
    }
    return served;
  }

  private load(version: number): Promise<ServedVersion> {
    const existing = this.loading.get(version);
    if (existing) return existing;
    this.states.set(version, { state: 'LOADING' });
    const loading = (async () => {
      let loaded: VersionModel;
      try {
        loaded = await loadVersionModel(path.join(this.basePath, String(version)), this.options.inference.thread, this.options.inference.backend, this.options.inference.workers, this.options.inference.compiled);
      } catch (error) {
        const message = (error as Error).message;
        this.states.set(version, { state: 'END', error: message });
        this.options.logger.warn(`version ${version} of ${this.basePath} failed to load: ${message}`);
        throw error;
      }
      this.states.set(version, { state: 'AVAILABLE' });
      return new ServedVersion(version, loaded, this.options.batching);
    })().finally(() => this.loading.delete(version));
    this.loading.set(version, loading);
    return loading;
  }

  private async retire(served: ServedVersion): Promise<void> {
    this.states.set(served.version, { state: 'UNLOADING' });
    await served.retire();
    // A request may have pinned it again meanwhile, under a new ServedVersion.
    if (this.latest?.version !== served.version && !this.pinned.has(served.version)) this.states.set(served.version, { state: 'END' });
  }

  private versionNotFound(version: number): RequestError {
    const available = listVersions(this.basePath);
    return new RequestError(404, `Version ${version} of the model does not exist under ${this.basePath}. Expected one of: ${available.join(', ') || 'none yet'}.`);
  }
}
