import { formatRunSummary, type RunSummary } from '../report/run-summary';

/** Short, readable summaries for stdout when --json is not given. */
export function formatHuman(command: string, result: unknown): string {
  const r = result as Record<string, any>;
  switch (command) {
    case 'train':
      return [
        `exported ${r.exportDir}`,
        `validation accuracy ${r.metrics.val.accuracy.toFixed(3)} (loss ${r.metrics.val.loss.toFixed(4)}, ${r.metrics.val.n} images)`,
        ...(r.metrics.test ? [`test accuracy ${r.metrics.test.accuracy.toFixed(3)} (${r.metrics.test.n} images)`] : []),
        `plan: ${r.plan.policy}, head on ${r.plan.cutLayer}; backend ${r.backend.name}`,
        ...(r.plan.fineTune?.gate ? [r.plan.fineTune.gate.reason] : []),
        ...(r.reportPath ? [`report ${r.reportPath}`] : []),
        `timings: ${Object.entries(r.timings).map(([k, v]) => `${k} ${(v as number).toFixed(1)}`).join(', ')}`,
      ].join('\n');
    case 'plan':
      return [`policy ${r.plan.policy}, cut at ${r.plan.cutLayer} (${r.plan.quadrant})`, ...r.plan.reasons.map((s: string) => `- ${s}`)].join('\n');
    case 'evaluate':
      return [
        `accuracy ${r.accuracy.toFixed(3)} on ${r.n} images`,
        ...r.labels.map((l: string) => {
          const c = r.perClass[l];
          return `  ${l}: precision ${c.precision.toFixed(3)} recall ${c.recall.toFixed(3)} f1 ${c.f1.toFixed(3)} (${c.support})`;
        }),
      ].join('\n');
    case 'predict':
      return (r as unknown as any[])
        .map((p) => `${p.file}: ${p.error ? `error: ${p.error}` : p.predictions.map((q: any) => `${q.label} ${q.probability.toFixed(3)}`).join(', ')}`)
        .join('\n');
    case 'doctor':
      return formatDoctor(r);
    case 'report':
      return formatRunSummary(r as RunSummary);
    case 'config print':
      return Object.entries(r.origins as Record<string, string>)
        .map(([key, origin]) => `${key} = ${JSON.stringify(key.split('.').reduce((o: any, k) => o[k], r.values))}  (${origin})`)
        .join('\n');
    default:
      return JSON.stringify(result, null, 2);
  }
}

const statusLabel: Record<string, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** One line per check (status, name, detail), the fix indented below anything that did not pass. */
function formatDoctor(r: Record<string, any>): string {
  const width = Math.max(...r.checks.map((c: any) => c.name.length));
  const lines = r.checks.flatMap((c: any) => [
    `${statusLabel[c.status] ?? c.status}  ${c.name.padEnd(width)}  ${c.detail}`,
    ...(c.status !== 'pass' && c.fix ? [`${' '.repeat(8 + width)}fix: ${c.fix}`] : []),
  ]);
  const s = r.summary;
  return [...lines, `${s.pass} passed, ${s.warn} warned, ${s.fail} failed (${r.timings.total_s.toFixed(1)} s)`].join('\n');
}
