/**
 * kernel CLI: `doctor`, `tune`, `untune`. Parses flags, consolidates config, calls the exported engine functions and
 * prints; `main` takes its process state (argv, env, output) so tests can run it in-process.
 */
import { Command, CommanderError } from 'commander';
import { pathToFileURL } from 'node:url';
import { EXIT, LabError } from '../shared/errors.ts';
import { resolveConfig, type KernelConfig, type KernelFlags } from './config.ts';
import { buildDoctorReport } from './doctor.ts';
import { renderDoctor, renderResult } from './doctor-table.ts';
import { readHostLimits } from './host-limits.ts';
import { loadProfile, profileNames } from './profile.ts';
import { tune, untune, type SettingResult, type TuneReport } from './tune.ts';

export interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (s: string) => void;
  err: (s: string) => void;
  color: boolean;
}

function summary(report: TuneReport, verb: string): string {
  const count = (s: SettingResult['status']) => report.results.filter((r) => r.status === s).length;
  return `${verb} ${count(verb === 'applied' ? 'applied' : 'restored')}, unchanged ${count('unchanged')}, failed ${report.failed}`;
}

function doctor(cfg: KernelConfig, io: CliIo): number {
  const profile = loadProfile(cfg.profile);
  const report = buildDoctorReport(readHostLimits(), profile, {
    n: cfg.n,
    backend: cfg.backend,
    ...(cfg.sourceAddresses ? { sourceAddresses: cfg.sourceAddresses } : {}),
  });
  io.out(cfg.json ? `${JSON.stringify(report, null, 2)}\n` : renderDoctor(report, io.color));
  return cfg.strict && !report.fits ? EXIT.preflight : EXIT.ok;
}

function runTune(cfg: KernelConfig, io: CliIo): number {
  const profile = loadProfile(cfg.profile); // parses fully before anything is written
  const onResult = cfg.json ? undefined : (r: SettingResult) => io.out(`${renderResult(r, io.color)}\n`);
  const report = tune(profile, {
    statePath: cfg.statePath,
    ...(cfg.onlyNetns ? { scope: 'netns' as const } : {}),
    ...(cfg.keys ? { keys: cfg.keys } : {}),
    ...(onResult ? { onResult } : {}),
  });
  if (cfg.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else {
    if (report.results.length === 0) io.out(`no setting of ${profile.file} passes the filters\n`);
    const saved = report.results.some((r) => r.status === 'applied' || r.reason === 'clamped');
    io.out(`${summary(report, 'applied')}; ${saved ? `replaced values saved in ${cfg.statePath} (undo: make untune)` : 'nothing replaced'}\n`);
  }
  return report.failed > 0 ? EXIT.failure : EXIT.ok;
}

function runUntune(cfg: KernelConfig, io: CliIo): number {
  const onResult = cfg.json ? undefined : (r: SettingResult) => io.out(`${renderResult(r, io.color)}\n`);
  const report = untune({ statePath: cfg.statePath, ...(onResult ? { onResult } : {}) });
  if (cfg.json) io.out(`${JSON.stringify(report, null, 2)}\n`);
  else if (report.nothingSaved) io.out(`nothing to restore: no ${cfg.statePath}\n`);
  else io.out(`${summary(report, 'restored')}${report.failed ? `; still saved in ${cfg.statePath}` : ''}\n`);
  return report.failed > 0 ? EXIT.failure : EXIT.ok;
}

/** Runs the CLI with the given arguments (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const run = (fn: (cfg: KernelConfig, io: CliIo) => number) => (flags: KernelFlags) => {
    code = fn(resolveConfig(flags, io.env), io);
  };
  const program = new Command('kernel')
    .description('host tuning for comet-lab: sysctl profiles, tune/untune, doctor')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  program
    .command('doctor')
    .description('every limit that bounds concurrent connections, what it means at N, and the largest N as it stands')
    .option('--n <n>', 'connections to assess (env LAB_N; default 1000000)')
    .option('--profile <name|file>', `profile to compare with (env LAB_PROFILE; default c1m; shipped: ${profileNames().join(', ')})`)
    .option('--backend <local|docker>', 'docker: connections cross the bridge and conntrack applies (env LAB_BACKEND)')
    .option('--source-addresses <k>', 'source addresses the load generators may use (default: as many 127.0.0.x as needed)')
    .option('--json', 'machine-readable report')
    .option('--strict', `exit ${EXIT.preflight} when N does not fit`)
    .action(run(doctor));
  program
    .command('tune')
    .description('apply a profile, saving the values it replaces')
    .option('--profile <name|file>', 'profile name in kernel/profiles or a file path (env LAB_PROFILE; default c1m)')
    .option('--state <path>', 'where replaced values are saved (env LAB_KERNEL_STATE; default .lab/kernel-saved.json)')
    .option('--only-netns', 'only per-network-namespace settings (what a namespace or container can set for itself)')
    .option('--keys <prefixes>', 'only keys starting with one of these comma-separated prefixes, e.g. net.')
    .option('--json', 'machine-readable results')
    .action(run(runTune));
  program
    .command('untune')
    .description('put back exactly the values tune replaced')
    .option('--state <path>', 'state file written by tune (env LAB_KERNEL_STATE)')
    .option('--json', 'machine-readable results')
    .action(run(runUntune));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help asked for: 0; help shown because no command was given ('commander.help'): a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      return EXIT.usage; // commander already printed the message
    }
    if (err instanceof LabError) {
      io.err(`${err.code}: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    throw err;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const code = await main(process.argv.slice(2), {
    env: process.env,
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    color: process.stdout.isTTY === true,
  });
  process.exitCode = code;
}
