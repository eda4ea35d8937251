/**
 * Worker entry of the logistic pool (piscina loads it in each thread): one task in, its result out.
 * Plain TypeScript arithmetic, no tfjs.
 */
import { fitFoldPath, refitLogistic, type FoldPath } from './cross-validated-logistic';
import type { LogisticTask, Refit } from './logistic-pool';

function runLogisticTask(task: LogisticTask): FoldPath | Refit {
  const { features, labels, numClasses, foldOf, strengths } = task.job;
  if (task.kind === 'fold') return fitFoldPath(features, labels, numClasses, foldOf, task.fold, strengths);
  return refitLogistic(features, labels, numClasses, strengths, task.strength);
}

export = runLogisticTask;
