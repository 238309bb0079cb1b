/**
 * Datagrams the kernel dropped on a UDP socket (its receive queue was full because the process
 * did not read in time), from the `drops` column of /proc/net/udp. A test that counts datagrams
 * subtracts these: they never reached the socket, whatever the engine does.
 * @module
 */
import { readFileSync } from 'node:fs';

/**
 * Kernel drops so far on the IPv4 UDP socket bound to 127.0.0.1:`port`; 0 when the table cannot
 * be read (a kernel without /proc, where no drop can be attributed).
 */
export function kernelUdpDrops(port: number): number {
  let table: string;
  try {
    table = readFileSync('/proc/net/udp', 'latin1');
  } catch {
    return 0;
  }
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let drops = 0;
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) drops += Number(f[f.length - 1]) || 0;
  }
  return drops;
}
