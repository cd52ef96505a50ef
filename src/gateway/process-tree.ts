import { readdirSync, readFileSync } from 'node:fs';

/**
 * A child process and its descendants, read from `/proc` (Linux). A stdio
 * server started through a launcher (`npx`, `uvx`, a shell script) runs as a
 * grandchild: its memory counts, and it must die with the child.
 */

/** Most processes followed under one child: a fork bomb is not walked forever. */
const MAX_TREE = 256;

function childrenOf(pid: number): number[] {
  const found: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return found;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      if (text) for (const child of text.split(/\s+/)) found.push(Number(child));
    } catch {
      // The task ended, or the kernel lacks the children file: the tree is what could be read.
    }
  }
  return found;
}

/** `pid` and every process below it (up to 256), parents first. */
export function processTree(pid: number): number[] {
  const tree: number[] = [pid];
  for (let index = 0; index < tree.length && tree.length < MAX_TREE; index += 1) tree.push(...childrenOf(tree[index]!));
  return tree.slice(0, MAX_TREE);
}

/** Resident memory of one process in bytes (`VmRSS`), 0 when it is gone. */
export function residentBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Resident memory of a process and its descendants, in bytes. */
export function treeResidentBytes(pid: number): number {
  return processTree(pid).reduce((sum, member) => sum + residentBytes(member), 0);
}

/** CPU time (user + system) of one process in clock ticks, from `/proc/<pid>/stat`; undefined when gone. */
export function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Sends `signal` to a process and every descendant (children first, so none is re-parented and missed). */
export function killTree(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const member of processTree(pid).reverse()) {
    try {
      process.kill(member, signal);
    } catch {
      // Already gone.
    }
  }
}
