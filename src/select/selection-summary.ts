import type { CandidateSummary, HeadSelection } from './select-head';

/** What plan/train --json, the export's metadata and the report say about the choice. */
export interface SelectionSummary {
  method: 'cross-validation';
  folds: number;
  n: number;
  winner: 'head' | 'baseline';
  chosen: string;
  /** Cross-validated accuracy of the winner minus the best of the other kind. */
  margin: number;
  reason: string;
  candidates: CandidateSummary[];
}

export function selectionSummary(selection: HeadSelection): SelectionSummary {
  return {
    method: 'cross-validation',
    folds: selection.folds,
    n: selection.estimate.n,
    winner: selection.winner,
    chosen: selection.chosen,
    margin: selection.margin,
    reason: selection.reason,
    candidates: selection.candidates,
  };
}
