import type * as Vega from 'vega';
// vega-lite declares its types only under package exports, which this project's (node10) resolution does not read.
import type * as VegaLite from 'vega-lite/build/index';
import type { TopLevelSpec } from 'vega-lite/build/index';

/**
 * vega and vega-lite are ES modules only (with top-level await), which `require` cannot load; this
 * CommonJS build would turn `import()` into `require`, so the native import is reached this way.
 */
const importModule = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

let libraries: Promise<{ vega: typeof Vega; vegaLite: typeof VegaLite }> | undefined;

function loadLibraries() {
  libraries ??= Promise.all([importModule<typeof Vega>('vega'), importModule<typeof VegaLite>('vega-lite')]).then(([vega, vegaLite]) => ({ vega, vegaLite }));
  return libraries;
}

/**
 * Starts loading vega and vega-lite (0.3 s of the main thread) ahead of the first chart. A failure
 * is left for renderChartSvg to meet and report.
 */
export function preloadChartLibraries(): void {
  loadLibraries().catch(() => {
    libraries = undefined;
  });
}

/**
 * A Vega-Lite chart as an SVG document (a string), rendered headless in Node: no browser, no
 * network. Warnings of the compiler and the renderer (a questionable spec) go to `warn`, not the console.
 */
export async function renderChartSvg(spec: TopLevelSpec, warn: (message: string) => void = () => {}): Promise<string> {
  const { vega, vegaLite } = await loadLibraries();
  const logger = vega.logger(vega.Warn, undefined, (_method, _level, args) => warn(args.map(String).join(' ')));
  const compiled = vegaLite.compile(spec, { logger }).spec;
  // No loader may reach a file or host: every chart carries its data inline.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`A report chart asked to load ${uri}; report charts must carry their data inline.`);
  };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader, logger });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
