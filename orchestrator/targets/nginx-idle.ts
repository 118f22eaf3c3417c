/**
 * `nginx-idle`: plain nginx (Debian's nginx-light) holding idle keep-alive connections: each connection asks once,
 * reads `ok`, and stays open with nothing more to say (the load generator's `--keep-open`). The practical floor of
 * a C event loop: what any server must spend per held connection. Nothing to send, no heartbeat.
 */
import { existsSync } from 'node:fs';
import { EXIT, LabError } from '../../shared/errors.ts';
import { connectAllTo } from './loopback-plan.ts';
import { launchNginx } from './nginx.ts';
import type { Target } from './target.ts';

export function nginxIdleTarget(): Target {
  return {
    kind: 'nginx-idle',
    name: 'nginx-idle',
    label: 'nginx-idle',
    supports: { transports: ['chunked'], sends: false, broadcast: false, heartbeat: false },
    backends: ['local'],
    description: 'nginx-light (Debian) answering `ok` and keeping each connection open and idle (keep-alive), one worker per planned server worker, 127.0.0.1 only',
    loadgenFlags: ['--keep-open'],
    streamPath: () => '/test/{i}',
    async preflight() {
      if (!existsSync('/usr/sbin/nginx')) {
        throw new LabError('LAB_ERR_NO_NGINX', 'nginx is not installed (/usr/sbin/nginx)', { exitCode: EXIT.preflight, hint: 'run `make system-deps` (nginx-light)' });
      }
    },
    adaptPlan: (plan) => {
      plan.server.engine = 'nginx';
      connectAllTo(plan, '127.0.0.1');
    },
    launchLocal: (l) => launchNginx('idle', l),
  };
}
