/**
 * Worker entry of the logistic pool (piscina loads it in each thread): one task in, its result out.
 * Plain TypeScript arithmetic, no tfjs.
 */
import { runLogisticTask } from './logistic-pool';

export = runLogisticTask;
