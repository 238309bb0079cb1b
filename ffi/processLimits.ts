/**
 * The calling process's resource limits as Linux reports them in `/proc/self/limits`: the media
 * code sizes its socket parking and the descriptor table (ffi/fdTable.ts) by the open-files limit,
 * the scheduling code names the nice and real-time limits when raising a thread is refused.
 * @module
 */
import fs from 'node:fs';

/**
 * The soft value of limit `name` (the row's title, e.g. `Max open files`) as written: digits or
 * `unlimited`; undefined where the file cannot be read (not Linux) or has no such row.
 */
export function processSoftLimit(name: string): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    // the title is followed by at least one blank, then the soft limit
    const m = /^\s+(\S+)/.exec(rest);
    if (m) return m[1];
  }
  return undefined;
}

let nofile: number | null | undefined;

/**
 * The process's soft open-files limit (`/proc/self/limits`, read once), or null where it cannot
 * be read or is unlimited. Node raises the soft limit to the hard one at start-up.
 */
export function openFilesLimit(): number | null {
  if (nofile === undefined) {
    // not Linux (native sockets are not either) or unlimited: no descriptor bound to keep
    const soft = processSoftLimit('Max open files');
    nofile = soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : null;
  }
  return nofile;
}
