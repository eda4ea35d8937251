import path from 'node:path';
import { versionFolders } from '../export/write-export';
import type { Logger } from '../logger';
import { folderFingerprint } from './folder-fingerprint';
import { RequestError } from './request-error';
import { ServedVersion, type BatchingOptions } from './served-version';
import type { WorkerPriority } from './thread-priority';
import { loadVersionModel, type InferenceThread, type WorkerHealth } from './version-model';

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
  /** Where forward passes run, and on which tfjs backend; how long a version may take to load; at which priority. */
  inference: { thread: InferenceThread; backend: string; workers: number; loadTimeoutSeconds: number; compiled?: boolean; priority?: WorkerPriority };
  /** Told every time the newest served version changes. */
  onServing?: (version: number) => void;
}

/**
 * The versions of one model under its base path (<out>/<name>/<version>/). Serves the newest on disk,
 * looks again every pollSeconds and switches once the new one is loaded; the old one is disposed
 * after its requests in flight end. A version is its number and its folder's fingerprint: a folder
 * replaced under the same number is loaded again, and one whose folder is deleted stops being served.
 * Older versions are loaded when a request pins them, and unloaded least recently used first beyond
 * maxLoadedVersions. A version that fails to load is reported in its status while the previous one
 * keeps serving; it is tried again once its folder changes (e.g. a copy completes).
 */
export class ModelVersions {
  private latest: ServedVersion | undefined;
  private readonly pinned = new Map<number, ServedVersion>();
  private readonly loading = new Map<string, Promise<ServedVersion>>();
  private readonly states = new Map<number, { state: VersionStatus['state']; error?: string }>();
  /** Fingerprints of the folders that failed to load, by version. */
  private readonly failed = new Map<number, string>();
  private readonly aborts = new AbortController();
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
    return this.latest !== undefined && this.latest.model.health().alive > 0;
  }

  get newestVersion(): number | undefined {
    return this.latest?.version;
  }

  /** Inference workers of the newest version able to compute. */
  get workerHealth(): WorkerHealth | undefined {
    return this.latest?.model.health();
  }

  /** Looks once at the folders on disk, and serves their newest version. */
  poll(): Promise<void> {
    this.polling ??= this.reconcile().finally(() => (this.polling = undefined));
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
      if (!versionFolders(this.basePath).has(version)) throw this.versionNotFound(version);
      return [{ version: String(version), state: 'END', status: { error_code: 'OK', error_message: 'on disk, not loaded: a request that pins it loads it' } }];
    }
    return entries.map(([v, { state, error }]) => ({
      version: String(v),
      state,
      status: { error_code: error ? 'UNKNOWN' : 'OK', error_message: error ?? '' },
    }));
  }

  /** Stops watching and unloads every version once its requests in flight end, or after graceMs regardless. */
  async stop(graceMs = Infinity): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.aborts.abort(new Error('the server is stopping'));
    await this.polling;
    const all = [this.latest, ...this.pinned.values()].filter((v): v is ServedVersion => v !== undefined);
    this.latest = undefined;
    this.pinned.clear();
    let timer: NodeJS.Timeout | undefined;
    const grace = Number.isFinite(graceMs) ? new Promise((resolve) => (timer = setTimeout(resolve, graceMs))) : new Promise(() => {});
    await Promise.race([Promise.all(all.map((served) => this.retire(served))), grace]);
    clearTimeout(timer);
    await Promise.all(all.map((served) => served.abandon()));
  }

  private scheduleNextPoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.poll().finally(() => this.scheduleNextPoll());
    }, this.options.pollSeconds * 1000);
  }

  private async reconcile(): Promise<void> {
    let folders: Map<number, string>;
    try {
      folders = versionFolders(this.basePath);
    } catch (error) {
      this.options.logger.warn(`cannot list ${this.basePath}: ${(error as Error).message}`);
      return;
    }
    const fingerprintOf = (version: number) => {
      const folder = folders.get(version);
      return folder === undefined ? undefined : folderFingerprint(path.join(this.basePath, folder));
    };
    for (const [version, served] of this.pinned) {
      if (fingerprintOf(version) === served.fingerprint) continue;
      this.pinned.delete(version);
      void this.retire(served);
    }
    const newest = [...folders.keys()].at(-1);
    if (newest === undefined) {
      if (this.latest) this.withdrawLatest();
      return;
    }
    const fingerprint = fingerprintOf(newest);
    if (fingerprint === undefined || this.failed.get(newest) === fingerprint) return;
    if (this.latest?.version === newest && this.latest.fingerprint === fingerprint) return;
    let served: ServedVersion;
    try {
      served = this.pinned.get(newest) ?? (await this.load(newest, folders.get(newest)!, fingerprint));
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
    this.options.logger.info(`serving version ${newest} of ${this.basePath}${previous?.version === newest ? ' (its folder was replaced)' : ''}`);
    this.options.onServing?.(newest);
    if (previous) void this.retire(previous);
  }

  /** The served version's folder is gone and no other version is on disk: serve nothing rather than a deleted model. */
  private withdrawLatest(): void {
    const withdrawn = this.latest!;
    this.latest = undefined;
    this.options.logger.warn(`version ${withdrawn.version} of ${this.basePath} was deleted and no other version is on disk; not serving until one appears`);
    void this.retire(withdrawn);
  }

  private requireLatest(): ServedVersion {
    if (this.latest) return this.latest;
    throw new RequestError(
      503,
      `No version of the model is loaded yet. Expected a numbered export folder under the model base path (written by finetune train --name ${path.basename(this.basePath)}); the server looks every ${this.options.pollSeconds} s.`,
      Math.ceil(this.options.pollSeconds),
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
    const folder = versionFolders(this.basePath).get(version);
    const fingerprint = folder === undefined ? undefined : folderFingerprint(path.join(this.basePath, folder));
    if (folder === undefined || fingerprint === undefined) throw this.versionNotFound(version);
    let served: ServedVersion;
    try {
      served = await this.load(version, folder, fingerprint);
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

  /** Loads one folder; concurrent requests for the same folder contents share one load. */
  private load(version: number, folder: string, fingerprint: string): Promise<ServedVersion> {
    const key = `${version}|${fingerprint}`;
    const existing = this.loading.get(key);
    if (existing) return existing;
    this.states.set(version, { state: 'LOADING' });
    const { inference, batching, logger } = this.options;
    const loading = (async () => {
      const dir = path.join(this.basePath, folder);
      try {
        const model = await loadVersionModel(dir, { ...inference, loadTimeoutMs: inference.loadTimeoutSeconds * 1000, logger }, this.aborts.signal);
        this.failed.delete(version);
        this.states.set(version, { state: 'AVAILABLE' });
        return new ServedVersion(version, fingerprint, model, batching);
      } catch (error) {
        const message = this.withoutBasePath((error as Error).message);
        this.failed.set(version, fingerprint);
        this.states.set(version, { state: 'END', error: `${message} (tried again once the folder changes)` });
        logger.warn(`version ${version} of ${this.basePath} failed to load: ${(error as Error).message}`);
        throw new Error(message);
      }
    })().finally(() => this.loading.delete(key));
    this.loading.set(key, loading);
    return loading;
  }

  private async retire(served: ServedVersion): Promise<void> {
    // The same number may be served meanwhile by a new ServedVersion: a replaced folder, or pinned again.
    const stillServed = () => this.latest?.version === served.version || this.pinned.has(served.version);
    if (!stillServed()) this.states.set(served.version, { state: 'UNLOADING' });
    await served.retire();
    if (!stillServed()) this.states.set(served.version, { state: 'END' });
  }

  /** Clients learn folder names relative to the base path, never where it is on the server's disk. */
  private withoutBasePath(message: string): string {
    return message.split(`${this.basePath}${path.sep}`).join('').split(this.basePath).join('<model base path>');
  }

  private versionNotFound(version: number): RequestError {
    const available = [...versionFolders(this.basePath).keys()];
    return new RequestError(404, `Version ${version} of the model does not exist. Expected one of: ${available.join(', ') || 'none yet'}.`);
  }
}
