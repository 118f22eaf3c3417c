/**
 * The two C references of the memory stage, as nginx processes in a memory cgroup of their own:
 * - `nchan`: Debian's nginx-light + libnginx-mod-nchan, `GET /test/<id>` is an http-chunked subscriber of channel
 *   <id> (nchan answers 403 unless the request carries `TE: chunked`, which the load generator sends), and
 *   `GET /ws/<id>` (with an Upgrade) a websocket subscriber of it, as comet-lab's server serves both.
 * - `floor`: plain nginx answering `GET /` and keeping the connection alive and idle: the least a C event loop
 *   spends per held connection.
 * One worker process, as the server engines are measured with one worker; master + worker are both in the group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError, EXIT } from '../../shared/errors.ts';
import type { ComponentCgroup } from '../../orchestrator/backends/local/cgroup.ts';

export type NginxKind = 'nchan' | 'floor';

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

/** nginx.conf for one kind; `connections` sizes worker_connections (plus room for the listener and logs). */
export function nginxConf(kind: NginxKind, dir: string, port: number, connections: number): string {
  // Headroom: with worker_connections close to the count held, nginx starts closing idle keep-alive connections
  // to refill its free list (14,240 of 15,000 stayed with 200 spare). The process's hard limit (20,000) caps it.
  const files = Math.min(20_000, connections + 3000);
  const location =
    kind === 'nchan'
      ? `location ~ ^/test/([A-Za-z0-9_-]+)$ { nchan_subscriber http-chunked; nchan_channel_id $1; }
    location ~ ^/ws/([A-Za-z0-9_-]+)$ { nchan_subscriber websocket; nchan_channel_id $1; }
    location ~ ^/pub/([A-Za-z0-9_-]+)$ { nchan_publisher; nchan_channel_id $1; }`
      : `location / { return 200 "ok\\n"; }`;
  return `${kind === 'nchan' ? `load_module ${nchanModulePath()};\n` : ''}daemon off;
master_process on;
user root;
worker_processes 1;
worker_rlimit_nofile ${files};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections ${files}; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  keepalive_timeout 3600s;
  keepalive_requests 1000000;
  client_header_timeout 3600s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    ${location}
  }
}
`;
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export interface RunningNginx {
  proc: ChildProcess;
  dir: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts nginx inside `cgroup` and resolves once its port accepts connections (10 s at most). */
export async function startNginx(kind: NginxKind, port: number, connections: number, cgroup: ComponentCgroup): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), `comet-bench-nginx-${kind}-`));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(kind, dir, port, connections));
  const cmd = cgroup.wrapCommand(['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], 20_000);
  const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  proc.on('exit', () => (exited = true));
  const stop = async (): Promise<void> => {
    if (!exited) {
      proc.kill('SIGQUIT'); // nginx: graceful stop; idle keep-alive connections are closed at once
      const until = Date.now() + 5000;
      while (!exited && Date.now() < until) await sleep(50);
      if (!exited) proc.kill('SIGKILL');
    }
    await cgroup.remove().catch(() => undefined); // the worker, if it outlived its master
    rmSync(dir, { recursive: true, force: true });
  };
  const until = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (exited || Date.now() > until) {
      let log = '';
      try {
        log = readFileSync(join(dir, 'error.log'), 'utf8');
      } catch {
        // no log yet
      }
      await stop();
      throw new LabError('LAB_ERR_NGINX_START', `nginx (${kind}) did not start listening on 127.0.0.1:${port}: ${stderr}${log}`.trim());
    }
    await sleep(50);
  }
  return { proc, dir, port, stop };
}
