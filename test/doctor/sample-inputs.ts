import { DoctorPipeline, type PreparedDoctorInputs } from '../../src/doctor/doctor-pipeline';
import { testConfig, testContainer } from '../helpers/pipeline';
import { copySample } from '../helpers/sample-data';

/** Doctor's inputs from a copy of the embedded sample: real decoding and real MobileNetV2 features, at 96 px to stay quick. */
export function prepareSampleInputs(sample: { classes: number; perClass: number }, flags: Record<string, string> = {}): Promise<PreparedDoctorInputs> {
  const config = testConfig({ 'image-size': '96', 'extract-workers': '1', ...flags });
  return testContainer(config).get(DoctorPipeline).prepareInputs(copySample(sample));
}
