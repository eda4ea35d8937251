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
  const steps: Float64Array[] = [];
  const changes: Float64Array[] = [];
  const rhos: number[] = [];
  const direction = new Float64Array(size);
  const alphas = new Float64Array(memory);
  let candidate = new Float64Array(size);
  let candidateGradient = new Float64Array(size);
  let iterations = 0;
  while (iterations < maxIterations && largestMagnitude(gradient) > tolerance) {
    // direction = -H gradient, H the L-BFGS inverse-Hessian estimate.
    direction.set(gradient);
    for (let m = steps.length - 1; m >= 0; m--) {
      alphas[m] = rhos[m] * dot(steps[m], direction);
      const y = changes[m];
      for (let i = 0; i < size; i++) direction[i] -= alphas[m] * y[i];
    }
    const last = steps.length - 1;
    const scale = last >= 0 ? dot(steps[last], changes[last]) / dot(changes[last], changes[last]) : 1 / Math.max(Math.sqrt(dot(gradient, gradient)), 1e-12);
    for (let i = 0; i < size; i++) direction[i] *= scale;
    for (let m = 0; m < steps.length; m++) {
      const beta = rhos[m] * dot(changes[m], direction);
      const s = steps[m];
      for (let i = 0; i < size; i++) direction[i] += s[i] * (alphas[m] - beta);
    }
    for (let i = 0; i < size; i++) direction[i] = -direction[i];
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (curvature pairs gone stale): restart from steepest descent.
      steps.length = changes.length = rhos.length = 0;
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
    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      s[i] = candidate[i] - x[i];
      y[i] = candidateGradient[i] - gradient[i];
    }
    const curvature = dot(s, y);
    if (curvature > 1e-12) {
      if (steps.length === memory) {
        steps.shift();
        changes.shift();
        rhos.shift();
      }
      steps.push(s);
      changes.push(y);
      rhos.push(1 / curvature);
    }
    [x, candidate] = [candidate, x];
    [gradient, candidateGradient] = [candidateGradient, gradient];
    value = candidateValue;
    iterations++;
  }
  return { x, value, iterations, evaluations, converged: largestMagnitude(gradient) <= tolerance };
}
