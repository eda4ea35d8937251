import type { Logger } from '../logger';
import type { CheckResult, CheckStatus } from './check-result';
import { classImbalanceCheck } from './data-class-imbalance';
import { corruptFilesCheck } from './data-corrupt-files';
import { duplicatesAcrossClassesCheck } from './data-duplicates-across-classes';
import { tinyOrMixedModeImagesCheck } from './data-tiny-or-mixed-mode-images';
import type { DoctorCheck, DoctorInputs } from './doctor-inputs';
import { initialLossCheck } from './init-loss-near-ln-classes';
import { finiteInputsAndFirstStepsCheck } from './train-finite-inputs-and-first-steps';
import { generalizationGapCheck } from './train-generalization-gap';
import { learningRateRangeCheck } from './train-learning-rate-range';
import { overfitsTenSamplesCheck } from './train-overfits-ten-samples';
import { predictionSpreadCheck } from './train-prediction-spread';

/** The tuning guide's sanity checks, in the order a practitioner runs them: data, inputs, init, overfit, rate, short run. */
export const doctorChecks: readonly DoctorCheck[] = [
  corruptFilesCheck,
  duplicatesAcrossClassesCheck,
  classImbalanceCheck,
  tinyOrMixedModeImagesCheck,
  finiteInputsAndFirstStepsCheck,
  initialLossCheck,
  overfitsTenSamplesCheck,
  learningRateRangeCheck,
  generalizationGapCheck,
  predictionSpreadCheck,
];

export function countStatuses(checks: CheckResult[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const check of checks) counts[check.status]++;
  return counts;
}

/** Runs every check in turn; a check that throws is reported as failed, and the others still run. */
export async function runDoctorChecks(inputs: DoctorInputs, logger: Logger, checks: readonly DoctorCheck[] = doctorChecks): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    const started = Date.now();
    let result: CheckResult;
    try {
      result = await check.run(inputs);
    } catch (error) {
      result = {
        name: check.name,
        status: 'fail',
        detail: `the check could not run: ${(error as Error).message}`,
        fix: 'fix what the message names (other checks may say more)',
        measured: {},
      };
    }
    result.seconds = (Date.now() - started) / 1000;
    logger.info(`${result.status.padEnd(4)} ${check.name} (${result.seconds.toFixed(1)} s)`);
    results.push(result);
  }
  return results;
}
