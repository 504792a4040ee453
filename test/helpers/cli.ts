import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** Runs the real camwarden CLI (agent/main.ts under tsx) as a child process. */
const MAIN = resolve('agent/main.ts');
const ARGS = ['--import', 'tsx', MAIN];

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [...ARGS, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CREDENTIALS_DIRECTORY: '', ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [...ARGS, ...args], { env: { ...process.env, CREDENTIALS_DIRECTORY: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Like runCli, without blocking this process: needed when peers in this process (simulators) must answer the CLI. */
export function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
