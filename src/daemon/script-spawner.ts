/**
 * The real processes of Sentinel scripts (the ScriptSpawner of src/sentinel/scripts.ts): the path
 * is executed directly (no shell), with the daemon's environment, stdin/stdout/stderr on
 * /dev/null, and no other descriptor (Node opens every descriptor close-on-exec). A path that
 * cannot be executed reports exit code 2, as Sentinel's child does when execve fails.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { ScriptSpawner } from '../sentinel/scripts.js';

export const spawnScript: ScriptSpawner = (argv, onExit) => {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', env: process.env });
  child.once('error', () => {
    // The spawn itself failed (ENOENT, EACCES): no exit event follows.
    if (child.pid === undefined) onExit(2, 0);
  });
  child.once('exit', (code, signal) => {
    onExit(code, signal ? (constants.signals[signal] ?? 9) : 0);
  });
  return {
    pid: child.pid ?? 0,
    kill: () => {
      child.kill('SIGKILL');
    },
  };
};
