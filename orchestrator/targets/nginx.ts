/**
 * nginx for the two nginx targets, from Debian's nginx-light (+ libnginx-mod-nchan): the configuration is written
 * here, per run, into a folder of its own, and nginx runs in the foreground (`daemon off`) inside the server's
 * cgroup, listening on 127.0.0.1 only.
 *
 * - `nchan`: `GET /test/<id>` is an http-chunked subscriber of channel <id> (nchan answers 403 unless the request
 *   carries `TE: chunked`, which the load generator sends), `/ws/<id>` a websocket subscriber of it; `POST /pub/<id>`
 *   publishes to it. With a broadcast in
 *   the run, every subscriber is also on channel `all` (nchan's multiplexed subscriber), and `POST /pub/all`
 *   reaches every one.
 * - `idle`: `GET /test/<id>` answers `ok` and the connection stays open, idle, for as long as the client keeps it:
 *   the least a C event loop spends per held connection.
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, LabError } from '../../shared/errors.ts';
import { ownTempDir } from '../../shared/temp-dir.ts';
import { launchedServer, startServerProcess, type ServerProcess } from './server-process.ts';
import type { LaunchedServer, LocalLaunch } from './target.ts';

export type NginxKind = 'nchan' | 'idle';

/** Where Debian's package says the nchan module is (`load_module modules/ngx_nchan_module.so;`). */
export function nchanModulePath(): string {
  let text: string;
  try {
    text = readFileSync('/etc/nginx/modules-enabled/50-mod-nchan.conf', 'utf8');
  } catch {
    throw new LabError('LAB_ERR_NO_NCHAN', 'nginx + nchan is not installed (no /etc/nginx/modules-enabled/50-mod-nchan.conf)', {
      exitCode: EXIT.preflight,
      hint: 'run `make system-deps` (nginx-light and libnginx-mod-nchan)',
    });
  }
  const rel = /load_module\s+(\S+);/.exec(text)?.[1] ?? 'modules/ngx_nchan_module.so';
  return rel.startsWith('/') ? rel : join('/usr/lib/nginx', rel);
}

export interface NginxConfOptions {
  kind: NginxKind;
  dir: string;
  port: number;
  /** worker_processes: each one holds at most its file limit (20,000 here), so several for a large N. */
  workers: number;
  /** worker_connections and worker_rlimit_nofile. */
  filesPerWorker: number;
  /** nchan: subscribe every stream to channel `all` too. */
  broadcast?: boolean;
}

/** nginx.conf for one kind. */
export function nginxConf(o: NginxConfOptions): string {
  const location =
    o.kind === 'nchan'
      ? `location ~ ^/test/([A-Za-z0-9_-]+)$ { nchan_subscriber http-chunked; nchan_channel_id $1${o.broadcast ? ' all' : ''}; }
    location ~ ^/ws/([A-Za-z0-9_-]+)$ { nchan_subscriber websocket; nchan_channel_id $1${o.broadcast ? ' all' : ''}; }
    location ~ ^/pub/([A-Za-z0-9_-]+)$ { nchan_publisher; nchan_channel_id $1; }`
      : `location / { return 200 "ok\\n"; }`;
  // reuseport gives each worker its own listening socket, spread by the kernel as comet-lab's workers are.
  return `${o.kind === 'nchan' ? `load_module ${nchanModulePath()};\n` : ''}daemon off;
master_process on;
user root;
worker_processes ${o.workers};
worker_rlimit_nofile ${o.filesPerWorker};
pid ${o.dir}/nginx.pid;
error_log ${o.dir}/error.log warn;
events { worker_connections ${o.filesPerWorker}; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${o.dir}/tmp;
  proxy_temp_path ${o.dir}/tmp;
  fastcgi_temp_path ${o.dir}/tmp;
  uwsgi_temp_path ${o.dir}/tmp;
  scgi_temp_path ${o.dir}/tmp;
  keepalive_timeout 3600s;
  keepalive_requests 1000000;
  client_header_timeout 3600s;
  send_timeout 3600s;
  server {
    listen 127.0.0.1:${o.port} backlog=4096${o.workers > 1 ? ' reuseport' : ''};
    ${location}
  }
}
`;
}

/**
 * Files per nginx worker: the connections it is planned to hold plus headroom. With worker_connections close to
 * the count held, nginx starts closing idle keep-alive connections to refill its free list (14,240 of 15,000 stayed
 * with 200 spare, bench/memory); the hard limit (20,000 here) caps it.
 */
export function filesPerWorker(connections: number, workers: number, hardLimit: number): number {
  return Math.min(hardLimit, Math.ceil(connections / workers) + 3000);
}

/** The folder nginx runs in: its conf, pid, error log and temp files. */
export function prepareNginxDir(dir: string): void {
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  chmodSync(dir, 0o755);
}

/** nginx's command line for a conf in `dir` (in the foreground: the conf says `daemon off`). */
export function nginxCommand(dir: string): string[] {
  return ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
}

/** Starts nginx of `kind` for the local backend, in the server's cgroup; resolves once its port accepts. */
export async function launchNginx(kind: NginxKind, l: LocalLaunch): Promise<LaunchedServer> {
  const dir = ownTempDir(`comet-lab-nginx-${kind}-`);
  prepareNginxDir(dir);
  const workers = Math.max(1, l.plan.server.workers);
  writeFileSync(join(dir, 'nginx.conf'), nginxConf({
    kind, dir, port: l.port, workers, filesPerWorker: filesPerWorker(l.plan.n, workers, l.plan.fdLimitPerProcess), broadcast: l.broadcast,
  }));
  let proc: ServerProcess;
  try {
    proc = await startServerProcess(l.wrap(nginxCommand(dir)), {
      what: `nginx (${kind})`,
      port: { host: '127.0.0.1', port: l.port },
      timeoutMs: 15_000,
      logDir: l.logDir,
    });
  } catch (err) {
    const log = readErrorLog(dir);
    rmSync(dir, { recursive: true, force: true });
    if (err instanceof LabError && log) throw new LabError(err.code, `${err.message}\nnginx's error.log:\n  ${log}`, { hint: err.hint });
    throw err;
  }
  return launchedServer(proc, l.port, async () => {
    await proc.stop('SIGTERM'); // fast shutdown: held streams are closed at once (SIGQUIT would wait for them)
    if (l.logDir) copyErrorLog(dir, join(l.logDir, 'server-nginx-error.log'));
    rmSync(dir, { recursive: true, force: true });
  });
}

function readErrorLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-10).join('\n  ');
  } catch {
    return '';
  }
}

function copyErrorLog(dir: string, to: string): void {
  try {
    writeFileSync(to, readFileSync(join(dir, 'error.log')));
  } catch {
    // nothing logged
  }
}
