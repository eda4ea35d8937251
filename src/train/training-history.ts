import type { EpochLog } from './fit';
import type { TrainingCallback } from './training-callback';
import type { TrainingWarning } from './training-warnings';

export interface TrainingHistoryState {
  epochs: EpochLog[];
  warnings: TrainingWarning[];
}

/** The per-epoch record of a fit (Keras' History) and every warning raised; first in the list, so later callbacks see the epoch recorded. */
export class TrainingHistory implements TrainingCallback {
  readonly stateKey = 'history';
  epochs: EpochLog[] = [];
  warnings: TrainingWarning[] = [];

  onEpochEnd(log: EpochLog): void {
    this.epochs.push(log);
  }

  getState(): TrainingHistoryState {
    return { epochs: this.epochs, warnings: this.warnings };
  }

  setState(state: TrainingHistoryState): void {
    this.epochs = [...state.epochs];
    this.warnings = [...state.warnings];
  }
}
