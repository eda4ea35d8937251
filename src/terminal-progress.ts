import { Format, SingleBar, type Options, type Params } from 'cli-progress';
import { formatDuration, formatRate, type Progress, type ProgressTask } from './progress';

interface Payload {
  label: string;
  unit: string;
  detail: string;
}

/** "features [=====-----] 120/300 images | 14 images/s | ETA 13 s | detail" */
function formatLine(options: Options, params: Params, payload: Payload): string {
  const elapsed = (Date.now() - params.startTime) / 1000;
  const rate = params.value > 0 && elapsed > 0 ? formatRate(params.value / elapsed, payload.unit) : `- ${payload.unit}/s`;
  const eta = params.value > 0 && params.value < params.total && Number.isFinite(params.eta) ? ` | ETA ${formatDuration(params.eta)}` : '';
  const bar = Format.BarFormat(params.progress, options);
  return `${payload.label} ${bar} ${params.value}/${params.total} ${payload.unit} | ${rate}${eta}${payload.detail ? ` | ${payload.detail}` : ''}`;
}

/**
 * A live bar on a terminal (cli-progress), one task at a time. Log lines written through
 * `print` appear above the bar instead of breaking it.
 */
export class TerminalProgress implements Progress {
  private bar: SingleBar | undefined;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  start(label: string, total: number, unit: string): ProgressTask {
    this.bar?.stop();
    const bar = new SingleBar({
      stream: this.stream,
      format: formatLine,
      barsize: 24,
      hideCursor: true,
      forceRedraw: true,
      linewrap: true,
      clearOnComplete: false,
    });
    this.bar = bar;
    const payload: Payload = { label, unit, detail: '' };
    bar.start(total, 0, payload);
    let stopped = false;
    return {
      update: (done, detail) => {
        if (stopped) return;
        if (detail !== undefined) payload.detail = detail;
        bar.update(done, payload);
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        bar.stop();
        if (this.bar === bar) this.bar = undefined;
      },
    };
  }

  /** Writes text (whole lines) above the running bar, which is redrawn below it on its next frame. */
  print(text: string): void {
    if (this.bar) {
      this.stream.cursorTo(0);
      this.stream.clearLine(0);
    }
    this.stream.write(text);
    this.bar?.render();
  }
}
