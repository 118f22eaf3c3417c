/**
 * The swarm parts of `make lab-up BACKEND=swarm` and `make lab-down` (scripts/lab-up.sh and lab-down.sh call it after
 * their own checks and image builds): `up` and `down`, settings from the same environment as the Docker lab
 * (COMET_LAB_PROJECT, COMET_MAX_CONNECTIONS, COMET_WORKERS, COMET_INTERVAL, COMET_ENGINE, COMET_ADMIN_TOKEN,
 * COMET_NOFILE, COMET_LAB_PROFILE, COMET_LAB_TUNE) plus COMET_LAB_SWARM_SUBNET and COMET_LAB_NODE_ENGINES.
 * `down --if-swarm` says nothing when the engine manages no swarm (lab-down without BACKEND).
 */
import { EXIT, LabError } from '../../../shared/errors.ts';
import { connectDocker } from '../docker/docker-lab.ts';
import { swarmLabDown } from './swarm-lab-down.ts';
import { swarmLabUp } from './swarm-lab-up.ts';
import { swarmSettings } from './swarm-settings.ts';

export async function swarmLabCli(args: string[], env: NodeJS.ProcessEnv, out: (line: string) => void, signals?: NodeJS.EventEmitter): Promise<number> {
  const say = (line: string) => out(`comet-lab: ${line}`);
  const [command, flag] = args;
  try {
    const settings = swarmSettings(env);
    const docker = await connectDocker();
    if (command === 'up') {
      // Ctrl-C or SIGTERM during lab-up (image loads, the tuner): the same take-down as a failure, then 130; a second
      // one exits at once (make lab-down removes what is left).
      const controller = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (!controller.signal.aborted) return controller.abort(new LabError('LAB_ERR_INTERRUPTED', `interrupted by ${sig}`, { exitCode: EXIT.interrupted }));
        say(`second ${sig}: exiting now; make lab-down removes what is left (network, server service, tuned sysctls)`);
        process.exit(EXIT.interrupted);
      };
      if (signals) {
        signals.on('SIGINT', onSignal);
        signals.on('SIGTERM', onSignal);
      }
      try {
        await swarmLabUp(docker, settings, {
          maxConnections: Number(env.COMET_MAX_CONNECTIONS || 100000),
          workers: env.COMET_WORKERS || 'auto',
          interval: env.COMET_INTERVAL || '10s',
          engine: env.COMET_ENGINE || 'raw',
          adminToken: env.COMET_ADMIN_TOKEN || '',
          signal: controller.signal,
        }, say);
      } finally {
        signals?.off('SIGINT', onSignal);
        signals?.off('SIGTERM', onSignal);
      }
      return EXIT.ok;
    }
    if (command === 'down') {
      const info = (await docker.info()) as { Swarm?: { ControlAvailable?: boolean } };
      if (flag === '--if-swarm' && !info.Swarm?.ControlAvailable) return EXIT.ok;
      const r = await swarmLabDown(docker, settings, say);
      return r.problems.length ? EXIT.failure : EXIT.ok;
    }
    say(`LAB_ERR_USAGE: swarm-lab-cli.ts up | down [--if-swarm], got '${args.join(' ')}'`);
    return EXIT.usage;
  } catch (err) {
    if (err instanceof LabError) {
      say(`${err.code}: ${err.message}`);
      if (err.hint) out(`  hint: ${err.hint}`);
      return err.exitCode;
    }
    say(`LAB_ERR_SWARM: ${(err as Error).message}`);
    return EXIT.failure;
  }
}

if (import.meta.main) {
  process.exitCode = await swarmLabCli(process.argv.slice(2), process.env, (l) => process.stdout.write(`${l}\n`), process);
}
