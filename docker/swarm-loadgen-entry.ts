/**
 * Entrypoint of the swarm's load-generator replicas (delivered to every node as a swarm config, mounted at
 * /app/docker/swarm-loadgen-entry.ts in the load-generator image, beside /app/loadgen as in the repository): every
 * replica has the same spec, so each takes its share of the connection ids from its task slot. COMET_LAB_TASK_SLOT is
 * swarm's {{.Task.Slot}} (1..replicas; a task that is rescheduled keeps its slot); COMET_LAB_SHARES lists
 * `start:count` per slot, as the orchestrator planned them. Then it is loadgen/cli.ts with `--start` and `--count`
 * added, in this same process (no second Node process in the container's memory).
 */
import { runCli } from '../loadgen/cli.ts';

const slot = Number(process.env.COMET_LAB_TASK_SLOT);
const shares = (process.env.COMET_LAB_SHARES ?? '').split(',').filter(Boolean);
const share = shares[slot - 1];
if (!Number.isInteger(slot) || slot < 1 || !share) {
  console.error(`swarm-loadgen-entry: no share for task slot '${process.env.COMET_LAB_TASK_SLOT}' among ${shares.length}`);
  process.exit(2);
}
const [start, count] = share.split(':');
runCli([...process.argv.slice(2), `--start=${start}`, `--count=${count}`]);
