/**
 * Runs tasks side by side (shared) or one alone (exclusive): an exclusive task waits until the
 * shared tasks in flight have finished, and shared tasks started meanwhile wait until it is done.
 * Exclusive tasks run one at a time, in the order they were asked for.
 */
export class SharedOrExclusive {
  private inFlight = 0;
  /** Settles once every exclusive task asked for so far has finished. */
  private exclusiveTail: Promise<void> = Promise.resolve();
  private onDrained: (() => void) | undefined;

  async shared<T>(task: () => Promise<T>): Promise<T> {
    // An exclusive task may be asked for while this one waits: wait for the newest tail.
    for (let tail = this.exclusiveTail; ; tail = this.exclusiveTail) {
      await tail;
      if (tail === this.exclusiveTail) break;
    }
    this.inFlight++;
    try {
      return await task();
    } finally {
      if (--this.inFlight === 0) this.onDrained?.();
    }
  }

  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.exclusiveTail.then(async () => {
      await this.drained();
      return task();
    });
    this.exclusiveTail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async drained(): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.onDrained = resolve;
    });
    this.onDrained = undefined;
  }
}
