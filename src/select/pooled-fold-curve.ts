import { scoreProbabilities, type CvEstimate } from './cv-estimate';

/**
 * The cross-validation curve of one head candidate, its folds training side by side: after every
 * epoch each fold adds its held-out probabilities and waits until every fold has, so the pooled
 * out-of-fold estimate of that epoch scores every sample once. Training stops for all folds when the
 * pooled loss has not improved for `patience` epochs: early stopping on a curve over all the
 * images, not on a single small split (whose one image is a point of accuracy).
 */
export class PooledFoldCurve {
  private readonly byEpoch: Float64Array[] = [];
  private readonly reported: number[] = [];
  private readonly waiting: ((stop: boolean) => void)[] = [];
  readonly estimates: CvEstimate[] = [];
  private best = -1;
  private stopped = false;

  constructor(
    private readonly labels: number[],
    private readonly numClasses: number,
    private readonly foldOf: number[],
    private readonly activeFolds: number,
    private readonly patience: number,
  ) {}

  /** The epoch (0-based) of the lowest pooled loss: ties go to the earlier. */
  get bestEpoch(): number {
    return this.best;
  }

  /**
   * One fold's held-out probabilities (K per row of `heldOut`) after `epoch`: resolves, once every
   * fold has reported that epoch, to whether training stops.
   */
  add(epoch: number, heldOut: number[], probabilities: Float32Array): Promise<boolean> {
    if (this.stopped) return Promise.resolve(true);
    const K = this.numClasses;
    this.byEpoch[epoch] ??= new Float64Array(this.labels.length * K);
    heldOut.forEach((row, r) => this.byEpoch[epoch].set(probabilities.subarray(r * K, (r + 1) * K), row * K));
    this.reported[epoch] = (this.reported[epoch] ?? 0) + 1;
    const done = new Promise<boolean>((resolve) => this.waiting.push(resolve));
    if (this.reported[epoch] === this.activeFolds) this.closeEpoch(epoch);
    return done;
  }

  /** A fold ended (failed, or stopped by one of its own callbacks): release the others (they stop) so nothing waits forever. */
  abandon(): void {
    this.stopped = true;
    this.release(true);
  }

  private closeEpoch(epoch: number): void {
    const estimate = scoreProbabilities(this.byEpoch[epoch], this.labels, this.numClasses, this.foldOf);
    this.estimates[epoch] = estimate;
    if (this.best < 0 || estimate.logLoss < this.estimates[this.best].logLoss) this.best = epoch;
    this.stopped = epoch - this.best >= this.patience;
    this.release(this.stopped);
  }

  private release(stop: boolean): void {
    for (const resolve of this.waiting.splice(0)) resolve(stop);
  }
}
