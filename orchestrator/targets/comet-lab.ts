/**
 * `comet-lab` (the default): the lab's own server, started by the backend as it always was (local processes or the
 * Docker lab's container). Every transport, sends and broadcast through its own API, a heartbeat chunk on every
 * stream; the plan is its own (workers, engine, heartbeat), so there is nothing to launch or adapt here.
 */
import { TRANSPORT_NAMES, type Transport } from '../../shared/contracts.ts';
import { STREAM_PREFIX } from '../backends/component-commands.ts';
import type { Target } from './target.ts';

export function cometLabTarget(): Target {
  return {
    kind: 'comet-lab',
    name: 'comet-lab',
    label: 'comet-lab',
    supports: { transports: [...TRANSPORT_NAMES], sends: true, broadcast: true, heartbeat: true },
    backends: ['local', 'docker', 'swarm'],
    description: "comet-lab's own server (server/cli.ts), as the plan sizes it",
    loadgenFlags: [],
    streamPath: (transport: Transport) => `/${STREAM_PREFIX[transport]}/{i}`,
    preflight: async () => undefined,
    adaptPlan: () => undefined,
  };
}
