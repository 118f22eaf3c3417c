/**
 * `make lab-up BACKEND=swarm`, after scripts/lab-up.sh has built the images: on a swarm whose manager is the local
 * engine, loads the images into every node it can reach, makes the overlay network (attachable, explicit subnet),
 * tunes every node's host-wide sysctls with a one-shot global job, and starts the server as a service on the node
 * labelled comet-lab.role=server, then waits for its ready line. Safe to call twice; a failure part-way, or Ctrl-C
 * (options.signal), takes down what it made. Reports through `log` (the CLI prints); never prints itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import { EXIT, LabError } from '../../../shared/errors.ts';
import { loadProfile } from '../../../kernel/profile.ts';
import { readyPrefix } from '../../../shared/ready-line.ts';
import { SERVER_LABEL, SERVER_LABEL_VALUE } from '../../plan/swarm-planner.ts';
import { swarmLabDown } from './swarm-lab-down.ts';
import { findSwarmLab } from './swarm-lab.ts';
import { loadImagesInto } from './swarm-images.ts';
import { localNodeId, nodeEngines, readSwarmNodes, requireGossip, requireManager } from './swarm-nodes.ts';
import { LABEL, names, type SwarmSettings } from './swarm-settings.ts';
import { serverPlacement, serverSpec, type LabSpecInput } from './swarm-specs.ts';
import { currentTasks, serviceLogs, waitTasks } from './swarm-tasks.ts';
import { runTuner } from './swarm-tuner.ts';

export interface SwarmLabUpOptions {
  maxConnections: number;
  workers: string;
  interval: string;
  engine: string;
  adminToken: string;
  readyTimeoutMs?: number;
  /** Ctrl-C: stop making the lab and take down what was made (the same swarmLabDown as a failure). */
  signal?: AbortSignal;
}

export async function swarmLabUp(docker: Dockerode, s: SwarmSettings, o: SwarmLabUpOptions, log: (line: string) => void): Promise<void> {
  await requireManager(docker);
  const n = names(s.project);
  try {
    const lab = await findSwarmLab(docker, s.project);
    log(`the swarm lab '${s.project}' is already up (server on ${lab.server.address}); nothing to do`);
    log('make lab-down first to rebuild it');
    return;
  } catch {
    // not up: clear any leftovers, then make it
  }
  await swarmLabDown(docker, s, () => undefined, { quiet: true });

  const nodes = await readSwarmNodes(docker);
  const ready = nodes.filter((x) => x.state === 'ready' && x.availability === 'active');
  const labelled = ready.filter((x) => x.labels[SERVER_LABEL] === SERVER_LABEL_VALUE);
  if (labelled.length > 1 || (labelled.length === 0 && ready.length !== 1)) {
    throw new LabError('LAB_ERR_NO_SERVER_NODE', labelled.length > 1 ? `${labelled.length} nodes carry ${SERVER_LABEL}=${SERVER_LABEL_VALUE}: the server runs on one` : `${ready.length} ready nodes and none carries ${SERVER_LABEL}=${SERVER_LABEL_VALUE}`, {
      exitCode: EXIT.preflight,
      hint: `docker node update --label-add ${SERVER_LABEL}=${SERVER_LABEL_VALUE} <node> (docker node ls lists them)`,
    });
  }
  const serverNode = labelled[0] ?? ready[0]!;
  await requireGossip(docker, ready.length);
  log(`swarm: ${nodes.length} node(s): ${nodes.map((x) => `${x.name} (${x.role}, ${x.state}, ${x.cores} cores, ${Math.round(x.memoryBytes / 2 ** 30)} GiB)`).join(', ')}; server on ${serverNode.name}`);

  const signal = o.signal;
  const build = async () => {
    // Images: into every node whose engine was given, all at once.
    const step = () => signal?.throwIfAborted();
    const engines = nodeEngines(docker, await localNodeId(docker), nodes, s.nodeEngines);
    const images = [s.serverImage, s.loadgenImage, ...(s.tune === 'skip' ? [] : [s.tunerImage])];
    const loads = await Promise.all(
      nodes.filter((x) => engines.has(x.id) && engines.get(x.id) !== docker).map((x) => loadImagesInto(docker, { name: x.name, engine: engines.get(x.id)! }, images)),
    );
    for (const l of loads) {
      log(`images: ${l.node}: ${l.loaded.length ? `loaded ${l.loaded.join(', ')} (${(l.bytes / 2 ** 20).toFixed(0)} MiB in ${l.seconds.toFixed(1)} s, docker save | docker load over its engine API)` : 'already has them'}`);
    }
    for (const x of nodes) {
      if (!engines.has(x.id)) log(`images: ${x.name}: no engine given for it (COMET_LAB_NODE_ENGINES): it must have ${images.join(', ')} already`);
    }

    step();
    let networkId: string;
    try {
      const net = await docker.createNetwork({
        Name: n.network,
        Driver: 'overlay',
        Attachable: true,
        // Internal: the lab's traffic stays between its tasks; the gateway container is the manager's only way in.
        Internal: true,
        CheckDuplicate: true,
        IPAM: { Driver: 'default', Config: [{ Subnet: s.subnet }] },
        Labels: { [LABEL.lab]: s.project },
      });
      networkId = net.id;
    } catch (err) {
      const msg = (err as Error).message;
      if (/overlap|pool/i.test(msg)) {
        throw new LabError('LAB_ERR_SUBNET_TAKEN', `the swarm lab's subnet ${s.subnet} overlaps a network that already exists: ${msg}`, {
          exitCode: EXIT.preflight,
          hint: 'pick a free one: COMET_LAB_SWARM_SUBNET=10.213.0.0/16 make lab-up BACKEND=swarm',
        });
      }
      throw err;
    }
    log(`network: ${n.network}, overlay, attachable, ${s.subnet}, endpoint mode dnsrr`);
    const spec: LabSpecInput = { project: s.project, networkId, nofile: s.nofile, profile: loadProfile(s.profile).settings };

    step();
    if (s.tune !== 'skip') {
      const results = await runTuner(docker, spec, { image: s.tunerImage, mode: s.tune, profile: s.profile, nodes });
      for (const r of results) {
        log(`tuner on ${r.node}: ${r.state}${r.exitCode ? ` (exit ${r.exitCode})` : ''}`);
        for (const line of r.lines) log(`  ${line}`);
      }
    } else log('tuner: COMET_LAB_TUNE=skip: host sysctls left as they are');

    step();
    const svc = await docker.createService(
      serverSpec(spec, {
        image: s.serverImage,
        workers: o.workers,
        maxConnections: o.maxConnections,
        interval: o.interval,
        engine: o.engine,
        adminToken: o.adminToken,
        placement: serverPlacement(labelled.length === 1, serverNode.id),
      }) as never,
    );
    try {
      await waitTasks(docker, svc.id, {
        timeoutMs: o.readyTimeoutMs ?? 60_000,
        what: 'the server task',
        ...(signal ? { signal } : {}),
        done: (t) => currentTasks(t).some((k) => k.Status.State === 'running'),
        failed: (t) => {
          const bad = t.find((k) => ['failed', 'rejected'].includes(k.Status.State));
          return bad ? `the server task on node ${nodes.find((x) => x.id === bad.NodeID)?.name ?? bad.NodeID}: ${bad.Status.State}: ${bad.Status.Err ?? bad.Status.Message}` : undefined;
        },
      });
      const deadline = Date.now() + (o.readyTimeoutMs ?? 60_000);
      let ready = '';
      while (!ready) {
        ready = (await serviceLogs(docker, svc.id)).map((l) => l.line).find((l) => l.startsWith(readyPrefix('server'))) ?? '';
        if (!ready && Date.now() > deadline) throw new Error('no ready line from the server');
        step();
        if (!ready) await new Promise((r) => setTimeout(r, 300));
      }
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw new LabError('LAB_ERR_SERVER_START', `the swarm server did not start: ${(err as Error).message}`, { exitCode: EXIT.failure, cause: err });
    }
    const lab = await findSwarmLab(docker, s.project);
    log(`lab '${s.project}' is up on the swarm: server on ${serverNode.name} at ${lab.server.address}:${lab.server.port} (overlay ${s.subnet})`);
    log('next: make flood N=... ARGS="--backend swarm" (auto picks swarm while it is up), make lab-down');
  };
  const building = build();
  building.catch(() => undefined);
  try {
    // Ctrl-C does not wait for the step in flight (an image load, the tuner job): lab-down starts at once.
    await (signal ? Promise.race([building, rejectOnAbort(signal)]) : building);
  } catch (err) {
    log(signal?.aborted ? 'interrupted: removing what lab-up made' : 'lab-up failed: removing what it made');
    await swarmLabDown(docker, s, () => undefined, { quiet: true }).catch(() => undefined);
    if (signal?.aborted) {
      // The step in flight may still make something (a network, a service): it stops before the next step; then
      // everything is taken down once more. Bounded: a second Ctrl-C exits at once (swarm-lab-cli.ts).
      await Promise.race([building.catch(() => undefined), sleep(60_000, undefined, { ref: false })]);
      await swarmLabDown(docker, s, () => undefined, { quiet: true }).catch(() => undefined);
    }
    throw err;
  }
}

function rejectOnAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
