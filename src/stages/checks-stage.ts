import { inject, injectable } from 'inversify';
import type { CheckResult } from '../doctor/check-result';
import type { DoctorInputs } from '../doctor/doctor-inputs';
import { runDoctorChecks } from '../doctor/run-checks';
import { Logger } from '../logger';
import type { Stage } from '../pipeline/stage';

export interface ChecksOutput {
  checks: CheckResult[];
}

/** doctor: the tuning guide's sanity checks, each reading the prepared inputs. */
@injectable()
export class ChecksStage implements Stage<{ doctorInputs: DoctorInputs }, ChecksOutput> {
  readonly name = 'checks';
  readonly timing = 'checks_s';

  constructor(@inject(Logger) private readonly logger: Logger) {}

  readonly run = async ({ doctorInputs }: { doctorInputs: DoctorInputs }): Promise<ChecksOutput> => ({ checks: await runDoctorChecks(doctorInputs, this.logger) });
}
