import { accessSync, constants as fsConstants, statSync } from 'node:fs';

/**
 * Why `path` is not a regular file this process may execute (Sentinel checks a script with
 * access(path, X_OK)), or null when it is.
 */
export function notExecutable(path: string): string | null {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile() ? null : 'not a regular file';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'not executable';
  }
}
