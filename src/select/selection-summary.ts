import type { CandidateSummary, HeadSelection } from './select-head';

/** What plan/train --json, the export's metadata and the report say about the choice. */
export interface SelectionSummary {
  method: 'cross-validation';
  folds: number;
  n: number;
  winner: 'head' | 'baseline';
  chosen: string;
  /** Cross-validated accuracy of the best head minus the baseline's. */
  margin: number;
  /** Standard error of that difference, paired over images; the head wins only above it. */
  standardError: number;
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
    standardError: selection.standardError,
    reason: selection.reason,
    candidates: selection.candidates,
  };
}
