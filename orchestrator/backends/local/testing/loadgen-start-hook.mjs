// A preload (NODE_OPTIONS=--import=<this file>) that makes a real load generator slow or failing at start, for the
// tests of what the local backend and the CLI do then (local-start.test.ts). It acts only in loadgen/cli.ts and the
// server/cli.ts it records; every other node process (the orchestrator, workers) loads it and does nothing.
//   LAB_TEST_PIDS_DIR      a folder: each server and load generator writes a file named after its pid
//   LAB_TEST_LOADGEN_FAIL  a --start= value: that load generator exits 1 at once, as a bad start would
//   LAB_TEST_LOADGEN_HANG  milliseconds every other load generator blocks before it loads (its ready line comes late)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const main = process.argv[1] ?? '';
const isLoadgen = main.endsWith('loadgen/cli.ts');
if (isLoadgen || main.endsWith('server/cli.ts')) {
  const dir = process.env.LAB_TEST_PIDS_DIR;
  if (dir) writeFileSync(join(dir, String(process.pid)), isLoadgen ? 'loadgen' : 'server');
}
if (isLoadgen) {
  const start = process.argv.find((a) => a.startsWith('--start='))?.slice('--start='.length);
  if (process.env.LAB_TEST_LOADGEN_FAIL !== undefined && start === process.env.LAB_TEST_LOADGEN_FAIL) {
    process.stderr.write('loadgen-start-hook: failing at start as asked\n');
    process.exit(1);
  }
  const hang = Number(process.env.LAB_TEST_LOADGEN_HANG ?? 0);
  if (hang > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, hang);
}
