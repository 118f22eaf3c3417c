/** Prints a bench run's events, one line each, with the time since start: the CLI's only output of its own. */
import type { Writable } from 'node:stream';
import type { BenchRun } from './run-bench.ts';

export function printProgress(run: BenchRun, out: Writable): () => void {
  const t0 = Date.now();
  let lastProgressAt = 0;
  const line = (text: string) => out.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${text}\n`);
  const onStage = (e: { name: string; detail: string }) => line(`== ${e.name}: ${e.detail}`);
  // Progress is frequent (every 0.5 s during a ramp): a line every 5 s at most, so logs stay readable.
  const onProgress = (e: { text: string }) => {
    if (Date.now() - lastProgressAt < 5000 && !e.text.includes(': ')) return;
    if (Date.now() - lastProgressAt < 5000 && /held$/.test(e.text)) return;
    lastProgressAt = Date.now();
    line(`   ${e.text}`);
  };
  const onFigure = (e: { stage: string; text: string }) => line(`-> ${e.stage} ${e.text}`);
  const onWritten = (e: { md: string }) => line(`results: ${e.md}`);
  run.on('stage', onStage);
  run.on('progress', onProgress);
  run.on('figure', onFigure);
  run.on('written', onWritten);
  return () => {
    run.off('stage', onStage);
    run.off('progress', onProgress);
    run.off('figure', onFigure);
    run.off('written', onWritten);
  };
}
