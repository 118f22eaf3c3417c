/**
 * What the swarm lab's services ask the engine for, without an engine: dnsrr endpoints, the file limit and the
 * profile's per-namespace sysctls as in docker-compose.yml, placement, the task-slot template, the entry config, the
 * tuner as a global job in the host's network namespace. (swarm-flood.test.ts checks the engine honours them.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { loadProfile } from '../../../kernel/profile.ts';
import { loadgenSpec, serverPlacement, serverSpec, tunerSpec, type LabSpecInput } from './swarm-specs.ts';
import { parseNodeEngines, swarmSettings } from './swarm-settings.ts';

const lab: LabSpecInput = { project: 'p', networkId: 'net1', nofile: 20000, profile: loadProfile('c1m').settings };

test('server: dnsrr, one replica on the labelled node, nofile and the same sysctls as the compose file', () => {
  const s = serverSpec(lab, { image: 'img', workers: 'auto', maxConnections: 1000, interval: '10s', engine: 'raw', adminToken: 't', placement: serverPlacement(true, 'x') });
  assert.equal(s.Name, 'p_server');
  assert.deepEqual(s.EndpointSpec, { Mode: 'dnsrr' });
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 1 } });
  assert.deepEqual(s.TaskTemplate.Placement?.Constraints, ['node.labels.comet-lab.role==server']);
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Ulimits, [{ Name: 'nofile', Soft: 20000, Hard: 20000 }]);
  assert.equal(s.TaskTemplate.RestartPolicy.Condition, 'none');
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: { server: { sysctls: Record<string, string> } } };
  const composeKeys = Object.keys(compose.services.server.sysctls).sort();
  assert.deepEqual(Object.keys(s.TaskTemplate.ContainerSpec.Sysctls!).sort(), composeKeys);
  assert.equal(s.TaskTemplate.ContainerSpec.Sysctls!['net.ipv4.ip_local_port_range'], '10240 65535');
  assert.equal(serverPlacement(false, 'abc'), 'node.id==abc');
});

test('load generators: one service, slot template, shares, spread at most N per node, entry config mounted', () => {
  const s = loadgenSpec(lab, {
    runId: 'r1', image: 'lg', replicas: 3, procs: 2, serverAddress: '10.212.0.2', transport: 'sse', streamPrefix: 'sse', durationSeconds: 99.2,
    shares: [{ startIndex: 0, connections: 4 }, { startIndex: 4, connections: 3 }, { startIndex: 7, connections: 3 }],
    maxPerNode: 2, avoidServerNode: true, entryConfig: { id: 'c1', name: 'p_loadgen-entry_abc' }, controlToken: 'tok-of-this-run-0123456789',
  });
  assert.ok(s.TaskTemplate.ContainerSpec.Env!.includes('LOADGEN_CONTROL_TOKEN=tok-of-this-run-0123456789'), 'control POSTs need the run\'s token');
  assert.ok(s.TaskTemplate.ContainerSpec.Args!.includes('--hold'), 'nothing opens before POST /ramp');
  assert.equal(s.Name, 'p_loadgen_r1');
  assert.deepEqual(s.Mode, { Replicated: { Replicas: 3 } });
  assert.deepEqual(s.EndpointSpec, { Mode: 'dnsrr' });
  assert.ok(s.TaskTemplate.ContainerSpec.Env!.includes('COMET_LAB_TASK_SLOT={{.Task.Slot}}'));
  assert.ok(s.TaskTemplate.ContainerSpec.Env!.includes('COMET_LAB_SHARES=0:4,4:3,7:3'));
  assert.ok(s.TaskTemplate.ContainerSpec.Args!.includes('--url=http://10.212.0.2:8000/sse/{i}'));
  assert.ok(s.TaskTemplate.ContainerSpec.Args!.includes('--duration=100s'));
  assert.equal(s.TaskTemplate.Placement?.MaxReplicas, 2);
  assert.deepEqual(s.TaskTemplate.Placement?.Constraints, ['node.labels.comet-lab.role!=server']);
  assert.equal(s.TaskTemplate.ContainerSpec.Configs![0]!.File.Name, '/app/docker/swarm-loadgen-entry.ts');
  assert.deepEqual(s.Labels, { 'comet-lab.lab': 'p', 'comet-lab.role': 'loadgen', 'comet-lab.run': 'r1' });
});

test('tuner: a global job in the host network namespace writing through /proc/sys, its state in a volume', () => {
  const s = tunerSpec(lab, { image: 't', mode: 'restore', profileConfig: { id: 'c', name: 'n' } });
  assert.deepEqual(s.Mode, { GlobalJob: {} });
  assert.deepEqual(s.TaskTemplate.Networks, [{ Target: 'host' }]);
  assert.ok(s.TaskTemplate.ContainerSpec.Env!.includes('COMET_LAB_TUNE=restore'));
  assert.deepEqual(s.TaskTemplate.ContainerSpec.Mounts!.map((m) => m.Target), ['/host/proc/sys', '/lab-state']);
});

test('settings: every problem at once, exit 2; node engines parsed', () => {
  assert.throws(
    () => swarmSettings({ COMET_LAB_SWARM_SUBNET: '10.0.0.0/24', LAB_SWARM_LOADGENS_ON: 'some', COMET_LAB_NODE_ENGINES: 'a=http://x', COMET_LAB_TUNE: 'maybe' }),
    (e: Error & { exitCode?: number }) => {
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /SWARM_SUBNET=10.0.0.0\/24/);
      assert.match(e.message, /LAB_SWARM_LOADGENS_ON=some/);
      assert.match(e.message, /'a=http:\/\/x'/);
      assert.match(e.message, /COMET_LAB_TUNE=maybe/);
      return true;
    },
  );
  const problems: string[] = [];
  const m = parseNodeEngines('n1=unix:///run/d.sock, n2=tcp://10.0.0.2:2375,n3=ssh://root@h', problems);
  assert.deepEqual(problems, []);
  assert.deepEqual([...m.keys()], ['n1', 'n2', 'n3']);
});
