/** The objective: writes the gradient at x into `gradient` and returns the value. */
export type Objective = (x: Float64Array, gradient: Float64Array) => number;

export interface LbfgsOptions {
  /** Stop when the largest gradient entry is below this. Default 1e-4. */
  gradientTolerance?: number;
  /** Most iterations (each one line search). Default 300. */
  maxIterations?: number;
  /** Correction pairs kept. Default 10. */
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  evaluations: number;
  /** The gradient tolerance was met (not the iteration limit, not a stalled line search). */
  converged: boolean;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
};
const largestMagnitude = (a: Float64Array) => {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]));
  return max;
};

/**
 * Limited-memory BFGS (two-loop recursion) with a backtracking Armijo line search, for smooth
 * convex objectives such as L2-regularized logistic regression. Starts from `start` (warm starts
 * along a regularization path converge in a few iterations).
 */
export function minimizeLbfgs(objective: Objective, start: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const tolerance = options.gradientTolerance ?? 1e-4;
  const maxIterations = options.maxIterations ?? 300;
  const memory = options.memory ?? 10;
  const size = start.length;
  let x = Float64Array.from(start);
  let gradient = new Float64Array(size);
  let value = objective(x, gradient);
  let evaluations = 1;
  // The last `memory` correction pairs, oldest first, in a ring of preallocated vectors.
  const pairs = new CorrectionPairs(memory);
  const direction = new Float64Array(size);
  const alphas = new Float64Array(memory);
  let candidate = new Float64Array(size);
  let candidateGradient = new Float64Array(size);
  let iterations = 0;
  while (iterations < maxIterations && largestMagnitude(gradient) > tolerance) {
    let slope = searchDirection(pairs, gradient, direction, alphas);
    if (!(slope < 0)) {
      // Not a descent direction (curvature pairs gone stale): restart from steepest descent.
      pairs.clear();
      const norm = Math.max(Math.sqrt(dot(gradient, gradient)), 1e-12);
      for (let i = 0; i < size; i++) direction[i] = -gradient[i] / norm;
      slope = dot(gradient, direction);
    }
    let step = 1;
    let candidateValue = Number.POSITIVE_INFINITY;
    for (let tries = 0; tries < 40; tries++) {
      for (let i = 0; i < size; i++) candidate[i] = x[i] + step * direction[i];
      candidateValue = objective(candidate, candidateGradient);
      evaluations++;
      if (candidateValue <= value + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(candidateValue < value)) break; // no progress possible at this precision
    pairs.add(x, candidate, gradient, candidateGradient);
    [x, candidate] = [candidate, x];
    [gradient, candidateGradient] = [candidateGradient, gradient];
    value = candidateValue;
    iterations++;
  }
  return { x, value, iterations, evaluations, converged: largestMagnitude(gradient) <= tolerance };
}

/** direction = -H gradient, H the L-BFGS inverse-Hessian estimate (two-loop recursion); returns the slope gradient . direction. */
function searchDirection(pairs: CorrectionPairs, gradient: Float64Array, direction: Float64Array, alphas: Float64Array): number {
  const size = gradient.length;
  direction.set(gradient);
  for (let m = pairs.count - 1; m >= 0; m--) {
    const s = pairs.step(m);
    const y = pairs.change(m);
    const alpha = pairs.rho(m) * dot(s, direction);
    alphas[m] = alpha;
    for (let i = 0; i < size; i++) direction[i] -= alpha * y[i];
  }
  const last = pairs.count - 1;
  const scale = last >= 0 ? dot(pairs.step(last), pairs.change(last)) / dot(pairs.change(last), pairs.change(last)) : 1 / Math.max(Math.sqrt(dot(gradient, gradient)), 1e-12);
  for (let i = 0; i < size; i++) direction[i] *= scale;
  for (let m = 0; m < pairs.count; m++) {
    const s = pairs.step(m);
    const correction = alphas[m] - pairs.rho(m) * dot(pairs.change(m), direction);
    for (let i = 0; i < size; i++) direction[i] += s[i] * correction;
  }
  for (let i = 0; i < size; i++) direction[i] = -direction[i];
  return dot(gradient, direction);
}

/** The correction pairs (s = x' - x, y = g' - g, rho = 1 / s.y), at most `memory`, reusing their vectors once full. */
class CorrectionPairs {
  // Allocated as pairs come: a warm-started search often ends after a few.
  private readonly steps: Float64Array[] = [];
  private readonly changes: Float64Array[] = [];
  private readonly rhos: Float64Array;
  private first = 0;
  count = 0;

  constructor(private readonly memory: number) {
    this.rhos = new Float64Array(memory);
  }

  /** The m-th pair, oldest first. */
  step = (m: number) => this.steps[(this.first + m) % this.memory];
  change = (m: number) => this.changes[(this.first + m) % this.memory];
  rho = (m: number) => this.rhos[(this.first + m) % this.memory];

  /** Keeps the pair of a step from x to next unless its curvature is not positive; the oldest goes when full. */
  add(x: Float64Array, next: Float64Array, gradient: Float64Array, nextGradient: Float64Array): void {
    let curvature = 0;
    for (let i = 0; i < x.length; i++) curvature += (next[i] - x[i]) * (nextGradient[i] - gradient[i]);
    if (!(curvature > 1e-12)) return;
    // Full: the oldest pair's vectors take the new one.
    const slot = (this.first + this.count) % this.memory;
    const s = (this.steps[slot] ??= new Float64Array(x.length));
    const y = (this.changes[slot] ??= new Float64Array(x.length));
    for (let i = 0; i < x.length; i++) {
      s[i] = next[i] - x[i];
      y[i] = nextGradient[i] - gradient[i];
    }
    this.rhos[slot] = 1 / curvature;
    if (this.count === this.memory) this.first = (this.first + 1) % this.memory;
    else this.count++;
  }

  clear(): void {
    this.first = 0;
    this.count = 0;
  }
}
