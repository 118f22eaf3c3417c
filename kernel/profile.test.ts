// Profile parsing: the shipped profiles are valid and honest about scope; a bad profile is refused with every problem
// named by file and line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LabError } from '../shared/errors.ts';
import { loadProfile, parseProfile, profileNames } from './profile.ts';
import { checkValue, SETTINGS } from './settings.ts';

function problemsOf(text: string): string[] {
  try {
    parseProfile(text, 'bad.conf');
  } catch (err) {
    assert.ok(err instanceof LabError);
    assert.equal(err.code, 'LAB_ERR_PROFILE');
    assert.equal(err.exitCode, 2);
    return err.message.split('\n');
  }
  assert.fail('parse should have failed');
}

describe('shipped profiles', () => {
  it('are seed and c1m, and parse', () => {
    assert.deepEqual(profileNames(), ['c1m', 'seed']);
    for (const name of profileNames()) {
      const p = loadProfile(name);
      assert.ok(p.settings.length >= 10, name);
      for (const s of p.settings) {
        assert.equal(s.scope, SETTINGS[s.key].scope, `${name}:${s.line} ${s.key}`);
        assert.ok(s.reason.length > 10, `${name}:${s.line} has a reason`);
      }
    }
  });

  it('c1m sets what a million loopback connections need', () => {
    const c1m = new Map(loadProfile('c1m').settings.map((s) => [s.key, s.value]));
    for (const key of ['fs.file-max', 'fs.nr_open', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_mem', 'net.ipv4.tcp_rmem',
      'net.ipv4.tcp_wmem', 'net.core.somaxconn', 'net.core.netdev_max_backlog', 'net.ipv4.tcp_max_syn_backlog',
      'net.netfilter.nf_conntrack_max', 'net.ipv4.tcp_tw_reuse']) {
      assert.ok(c1m.has(key), key);
    }
    assert.ok(Number(c1m.get('fs.file-max')) > 2_000_000, 'two files per loopback connection');
    assert.ok(Number(c1m.get('net.netfilter.nf_conntrack_max')) >= 1_000_000);
    assert.equal(c1m.get('net.ipv4.ip_local_port_range'), '10240 65535');
  });
});

describe('parseProfile', () => {
  it('reads scope, reason, normalised value and line', () => {
    const p = parseProfile('# header\n\n# netns: more ports\nnet.ipv4.ip_local_port_range =\t1024    65535\n', 'x.conf');
    assert.deepEqual(p.settings, [{ key: 'net.ipv4.ip_local_port_range', value: '1024 65535', scope: 'netns', reason: 'more ports', line: 4 }]);
    assert.equal(p.name, 'x');
  });

  it('reports every problem at once with file and line', () => {
    const problems = problemsOf([
      '# netns: fine',
      'net.core.somaxconn = 65535',
      'net.core.netdev_max_backlog = 5000', // 3: no reason above
      '# netns: wrong scope',
      'net.ipv4.tcp_mem = 1 2 3', // 5: host-wide marked netns
      '# netns: typo',
      'net.ipv4.tcp_max_syn_backlgo = 10', // 7: unknown key
      '# netns: too high',
      'net.ipv4.ip_local_port_range = 1024 70000', // 9: out of range
      'this is not a setting', // 10: malformed
      '# netns: reversed',
      'net.ipv4.tcp_rmem = 4096 2048 8192', // 12: decreasing
      '# netns: again',
      'net.core.somaxconn = 1024', // 14: duplicate
      '# netns: words',
      'net.ipv4.tcp_tw_reuse = yes', // 16: not an integer
      '# netns: two values',
      'net.ipv4.tcp_wmem = 4096 4096', // 18: wrong count
    ].join('\n'));
    const lines = problems.map((p) => p.match(/^bad\.conf:(\d+): /)?.[1]);
    assert.deepEqual(lines, ['3', '5', '7', '9', '10', '12', '14', '16', '18'], problems.join('\n'));
    assert.match(problems[0], /needs a reason/);
    assert.match(problems[1], /host-wide, marked "netns"/);
    assert.match(problems[2], /unknown setting "net\.ipv4\.tcp_max_syn_backlgo"/);
    assert.match(problems[3], /70000 is out of range 1\.\.65535/);
    assert.match(problems[4], /not "key = value"/);
    assert.match(problems[6], /already set on line 2/);
  });

  it('refuses an empty profile and an unknown profile name', () => {
    assert.match(problemsOf('# only comments\n')[0], /no settings/);
    assert.throws(() => loadProfile('c2m'), (err: LabError) => err.code === 'LAB_ERR_PROFILE' && /unknown profile "c2m"/.test(err.message) && /c1m, seed/.test(err.hint ?? ''));
    assert.throws(() => loadProfile('../etc'), (err: LabError) => err.exitCode === 2);
  });
});

describe('checkValue', () => {
  it('checks ranges, order and port lists', () => {
    assert.deepEqual(checkValue('net.ipv4.ip_local_port_range', '10240 65535'), []);
    assert.equal(checkValue('net.ipv4.ip_local_port_range', '2000 2000').length, 1, 'low must be below high');
    assert.deepEqual(checkValue('net.ipv4.tcp_mem', '1 1 2'), []);
    assert.deepEqual(checkValue('net.ipv4.ip_local_reserved_ports', '8080,9000-9100'), []);
    assert.equal(checkValue('net.ipv4.ip_local_reserved_ports', '9100-9000,x').length, 2);
    assert.equal(checkValue('vm.swappiness', '201').length, 1);
    assert.equal(checkValue('net.ipv4.tcp_tw_reuse', '-1').length, 1);
  });
});
