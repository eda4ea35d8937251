import convict from 'convict';

/** Numbers from flags and variables arrive as strings; text that is no number stays text so the error can show it. */
const toNumber = (value: unknown) => (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value)) ? Number(value) : value);

function numberFormat(name: string, expected: string, accepts: (x: number) => boolean): convict.Format {
  return {
    name,
    coerce: toNumber,
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isFinite(value) || !accepts(value)) {
        throw new Error(`expected ${expected}`);
      }
    },
  };
}

/** A name that is a single folder or file name: letters, digits, ".", "_", "-"; never "." or "..", never a path. */
export const namePattern = /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/;
const nameExpected = 'a name of letters, digits, ".", "_" and "-" (not a path: no "/", no "..")';

/**
 * Durations are bounded: Node's timers overflow past 2^31 - 1 ms (about 24.8 days) and then fire
 * at once, so an absurd value would turn a wait into a busy loop. Every setting that is a duration
 * uses one of these formats (a test checks that), and its message names the range.
 */
const durationFormats = {
  milliseconds: numberFormat('milliseconds', 'an integer number of milliseconds in 0..3600000 (one hour)', (x) => Number.isInteger(x) && x >= 0 && x <= 3_600_000),
  'positive-milliseconds': numberFormat('positive-milliseconds', 'an integer number of milliseconds in 1..3600000 (one hour)', (x) => Number.isInteger(x) && x >= 1 && x <= 3_600_000),
  seconds: numberFormat('seconds', 'a number of seconds in 0..86400 (one day)', (x) => x >= 0 && x <= 86_400),
  'positive-seconds': numberFormat('positive-seconds', 'a number of seconds in 0.01..86400 (one day)', (x) => x >= 0.01 && x <= 86_400),
};

/** Names of the formats a duration setting may use. */
export const durationFormatNames = Object.keys(durationFormats);

/** Formats the schema uses; their messages say what is expected, convict adds the value received. */
export function registerConfigFormats(): void {
  convict.addFormats({
    ...durationFormats,
    'positive-integer': numberFormat('positive-integer', 'a positive integer', (x) => Number.isInteger(x) && x > 0),
    'non-negative-integer': numberFormat('non-negative-integer', 'an integer >= 0', (x) => Number.isInteger(x) && x >= 0),
    'positive-number': numberFormat('positive-number', 'a number > 0', (x) => x > 0),
    'non-negative-number': numberFormat('non-negative-number', 'a number >= 0', (x) => x >= 0),
    'fraction-below-one': numberFormat('fraction-below-one', 'a number in [0, 1)', (x) => x >= 0 && x < 1),
    'open-fraction': numberFormat('open-fraction', 'a number in (0, 1)', (x) => x > 0 && x < 1),
    'nice-steps': numberFormat('nice-steps', 'an integer in 0..19 (nice steps, as nice -n takes; 0 leaves the priority unchanged)', (x) => Number.isInteger(x) && x >= 0 && x <= 19),
    'tcp-port': numberFormat('tcp-port', 'a port number in 0..65535 (0 picks a free one)', (x) => Number.isInteger(x) && x >= 0 && x <= 65535),
    fraction: numberFormat('fraction', 'a number in [0, 1]', (x) => x >= 0 && x <= 1),
    'fraction-up-to-one': numberFormat('fraction-up-to-one', 'a number in (0, 1]', (x) => x > 0 && x <= 1),
    'zero-or-power-of-two': numberFormat(
      'zero-or-power-of-two',
      '0 or a power of two (1, 2, 4, ... 4096)',
      (x) => x === 0 || (Number.isInteger(x) && x <= 4096 && (x & (x - 1)) === 0),
    ),
    'name-or-empty': {
      name: 'name-or-empty',
      validate(value: unknown) {
        if (typeof value !== 'string' || (value !== '' && !namePattern.test(value))) throw new Error(`expected ${nameExpected} or empty`);
      },
    },
    url: {
      name: 'url',
      validate(value: unknown) {
        try {
          new URL(String(value));
        } catch {
          throw new Error('expected an absolute URL such as https://tfhub.dev');
        }
      },
    },
  });
}

/** Refuses an environment name that is a path (NODE_ENV=../../x would load any JSON file as configuration). */
export function checkEnvironmentName(env: string, from: string): string | undefined {
  return namePattern.test(env) ? undefined : `Received environment ${JSON.stringify(env)} (from ${from}). Expected ${nameExpected}, naming configs/<env>.json`;
}
