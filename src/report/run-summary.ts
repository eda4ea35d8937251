import fs from 'node:fs';
import type { ClassMetrics } from '../evaluate/classification-metrics';
import { openRunDirectory } from '../runs/run-directory';
import { readReportData, rebuildReport } from './write-report';

/** What `finetune report` prints about a run. */
export interface RunSummary {
  runId: string;
  runDir: string;
  reportPath: string;
  /** True when report.html was (re)rendered by this call. */
  rendered: boolean;
  name: string;
  status: 'succeeded' | 'failed';
  error?: string;
  exportDir?: string;
  /** Epochs trained per phase. */
  epochs: Record<string, number>;
  /** The highest validation accuracy of any epoch. */
  bestValAccuracy?: { value: number; phase: string; epoch: number };
  /** The exported model's validation metrics (the restored best weights). */
  val?: { loss: number; accuracy: number; n: number };
  plan?: { policy: string; quadrant: string; cutLayer: string; similarity: string };
  perClass?: Record<string, ClassMetrics>;
}

/**
 * A run's summary from its folder (by id under runsDir, or by path). report.html is rendered
 * from report-data.json when asked (`render`) or when the page is missing.
 */
export async function summarizeRun(runsDir: string, idOrPath: string, options: { render?: boolean } = {}): Promise<RunSummary> {
  const run = openRunDirectory(runsDir, idOrPath);
  const data = readReportData(run);
  const render = options.render === true || !fs.existsSync(run.reportPath);
  if (render) await rebuildReport(run);
  const epochs: Record<string, number> = {};
  for (const e of data.epochs) epochs[e.phase] = (epochs[e.phase] ?? 0) + 1;
  const best = data.epochs.reduce<RunSummary['bestValAccuracy']>(
    (top, e) => (e.valAccuracy !== undefined && (!top || e.valAccuracy > top.value) ? { value: e.valAccuracy, phase: e.phase, epoch: e.epoch + 1 } : top),
    undefined,
  );
  return {
    runId: run.id,
    runDir: run.dir,
    reportPath: run.reportPath,
    rendered: render,
    name: data.name,
    status: data.status,
    ...(data.error ? { error: data.error } : {}),
    ...(data.exportDir ? { exportDir: data.exportDir } : {}),
    epochs,
    ...(best ? { bestValAccuracy: best } : {}),
    ...(data.metrics?.val ? { val: data.metrics.val } : {}),
    ...(data.plan ? { plan: { policy: data.plan.policy, quadrant: data.plan.quadrant, cutLayer: data.plan.cutLayer, similarity: data.plan.similarity.category } } : {}),
    ...(data.validation ? { perClass: data.validation.perClass } : {}),
  };
}

/** The summary as a few lines of text. */
export function formatRunSummary(summary: RunSummary): string {
  const lines = [
    `report ${summary.reportPath}${summary.rendered ? ' (rendered now)' : ''}`,
    `run ${summary.runId} (${summary.name}): ${summary.status}${summary.error ? `: ${summary.error}` : ''}`,
  ];
  if (summary.exportDir) lines.push(`export ${summary.exportDir}`);
  const epochs = Object.entries(summary.epochs);
  lines.push(`epochs: ${epochs.length > 0 ? epochs.map(([phase, n]) => `${n} ${phase}`).join(', ') : 'none'}`);
  if (summary.bestValAccuracy) {
    const b = summary.bestValAccuracy;
    lines.push(`best validation accuracy ${b.value.toFixed(3)} (${b.phase} epoch ${b.epoch})`);
  }
  if (summary.val) lines.push(`exported model: validation accuracy ${summary.val.accuracy.toFixed(3)}, loss ${summary.val.loss.toFixed(4)} on ${summary.val.n} images`);
  if (summary.plan) lines.push(`plan: ${summary.plan.policy} on ${summary.plan.cutLayer} (${summary.plan.quadrant})`);
  if (summary.perClass) {
    lines.push('per class (validation):');
    for (const [label, m] of Object.entries(summary.perClass)) {
      lines.push(`  ${label}: F1 ${m.f1.toFixed(3)} precision ${m.precision.toFixed(3)} recall ${m.recall.toFixed(3)} (${m.support})`);
    }
  }
  return lines.join('\n');
}
