/** The C reference pair as a bench Pair: `processes` c-server processes sharing one port, as many c-clients. */
import { freePortBelow } from '../../orchestrator/backends/local/free-port.ts';
import { clientSource, sumTotals, type ClientTotals, type Pair, type PairSpec } from '../pairs/pair.ts';
import type { CPairBinaries } from './build.ts';
import { LineControlled } from './line-control.ts';

export async function startCPair(spec: PairSpec, bins: CPairBinaries): Promise<Pair> {
  const port = await freePortBelow(32768);
  const servers: LineControlled[] = [];
  const clients: LineControlled[] = [];
  const stop = async () => {
    await Promise.all([...clients, ...servers].map((c) => c.stop()));
  };
  try {
    // the server frames by path (/test, /sse, /ws) as comet-lab does; the client is told what to parse
    const mode = spec.transport === 'chunked' ? [] : [`--${spec.transport}`];
    for (let k = 0; k < spec.processes; k++) {
      const args = ['--port', String(port), '--host', '127.0.0.1', '--interval-ms', String(spec.intervalMs)];
      servers.push((await LineControlled.start(bins.server, args, 'comet-c-server ready', `c-server ${k}`)).child);
    }
    let first = 0;
    for (let k = 0; k < spec.processes; k++) {
      const count = Math.floor(spec.n / spec.processes) + (k < spec.n % spec.processes ? 1 : 0);
      const path = spec.transport === 'chunked' ? '/test/' : `/${spec.transport}/`;
      const args = ['--port', String(port), '--count', String(count), '--start', String(first), '--source-ip', clientSource('c', k), '--path', path, ...mode];
      clients.push((await LineControlled.start(bins.client, args, 'comet-c-client ready', `c-client ${k}`)).child);
      first += count;
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    impl: 'c',
    spec,
    roots: { server: servers.map((s) => s.pid), client: clients.map((c) => c.pid) },
    async totals() {
      return sumTotals(await Promise.all(clients.map((c) => c.ask<ClientTotals>('stats'))));
    },
    async broadcast(body) {
      const answers = await Promise.all(servers.map((s) => s.ask<{ error?: string }>(`broadcast ${body}`, 'broadcast', 120_000)));
      const refused = answers.find((a) => a.error !== undefined);
      if (refused) throw new Error(`c-server refused the broadcast: ${refused.error}`);
    },
    async resetLatency() {
      await Promise.all(clients.map((c) => c.ask('reset')));
    },
    stop,
  };
}
