/**
 * `cmd:'<command line>'`: a user's server, started by the lab (local backend) through `/bin/sh -c` inside the
 * server's memory cgroup, with `{port}` replaced by the port the lab chose (also in $PORT) and `{host}` by
 * 127.0.0.1. It is ready when 127.0.0.1:<port> accepts a connection; one that exits first, or does not listen within
 * --target-ready-timeout (30 s), fails with its last stderr lines. What it speaks is the user's to know: the load generators ask the
 * transport's usual path (`/test/{i}` for chunked); the lab sends nothing to it.
 */
import { TRANSPORT_NAMES, type Transport } from '../../shared/contracts.ts';
import { STREAM_PREFIX } from '../backends/component-commands.ts';
import { connectAllTo } from './loopback-plan.ts';
import { launchedServer, startServerProcess } from './server-process.ts';
import type { LaunchedServer, LocalLaunch, Target } from './target.ts';

export function cmdProblem(commandLine: string): string | undefined {
  if (commandLine.trim() === '') return "cmd: needs a command line, e.g. cmd:'node my-server.js --port {port}'";
  if (!commandLine.includes('{port}')) return `cmd:${commandLine}: put {port} where the port goes (the lab chooses a free one), e.g. cmd:'node my-server.js --port {port}'`;
  return undefined;
}

/** `readySeconds`: how long it gets to listen (--target-ready-timeout, default 30 s). */
export function cmdTarget(commandLine: string, readySeconds = 30): Target {
  const launch = async (l: LocalLaunch): Promise<LaunchedServer> => {
    const line = commandLine.replaceAll('{port}', String(l.port)).replaceAll('{host}', '127.0.0.1');
    const proc = await startServerProcess(l.wrap(['/bin/sh', '-c', line]), {
      what: `cmd: ${line}`,
      port: { host: '127.0.0.1', port: l.port },
      timeoutMs: readySeconds * 1000,
      logDir: l.logDir,
      env: { ...process.env, PORT: String(l.port), HOST: '127.0.0.1' },
    });
    return launchedServer(proc, l.port, () => proc.stop('SIGTERM'));
  };
  return {
    kind: 'cmd',
    name: `cmd:${commandLine}`,
    label: 'cmd',
    supports: { transports: [...TRANSPORT_NAMES], sends: false, broadcast: false, heartbeat: false },
    backends: ['local'],
    description: `\`${commandLine}\` started by the lab through /bin/sh in the server's memory cgroup ({port} = the port the lab chose), 127.0.0.1`,
    loadgenFlags: [],
    streamPath: (transport: Transport) => `/${STREAM_PREFIX[transport]}/{i}`,
    preflight: async () => undefined,
    adaptPlan: (plan) => {
      plan.server.engine = 'cmd';
      plan.server.workers = 1;
      connectAllTo(plan, '127.0.0.1');
    },
    launchLocal: launch,
  };
}
