/**
 * The shared libraries an ELF file depends on (its `DT_NEEDED` entries), read from the file
 * itself: how `ffi/srtp.ts` tells a libsrtp2 built with OpenSSL (`libcrypto.so.3`) from one
 * built with NSS (`libnss3.so`) without running `ldd`. Reads the section headers, finds the
 * dynamic section and its string table; works for 32- and 64-bit, either byte order.
 * @module
 */
import { readFileSync } from 'node:fs';

const SHT_DYNAMIC = 6;
const DT_NULL = 0;
const DT_NEEDED = 1;

/**
 * The `DT_NEEDED` names of the ELF file at `path` (e.g. `['libcrypto.so.3', 'libc.so.6']`), or
 * `undefined` when it cannot be read or is not an ELF shared object with section headers.
 * Never throws.
 */
export function elfNeededLibraries(path: string): string[] | undefined {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    return parseNeeded(b);
  } catch {
    // a truncated or odd file: reads past its end throw RangeError
    return undefined;
  }
}

function parseNeeded(b: Buffer): string[] | undefined {
  if (b.length < 52 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const u16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  // offsets and sizes fit in a double for any file we could have read into memory
  const word = (o: number): number => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
  const shoff = word(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  if (shoff === 0 || shnum === 0) return undefined;
  const section = (i: number): { type: number; offset: number; size: number; link: number } => {
    const s = shoff + i * shentsize;
    return is64
      ? { type: u32(s + 4), offset: word(s + 0x18), size: word(s + 0x20), link: u32(s + 0x28) }
      : { type: u32(s + 4), offset: u32(s + 0x10), size: u32(s + 0x14), link: u32(s + 0x18) };
  };
  for (let i = 0; i < shnum; i++) {
    const dyn = section(i);
    if (dyn.type !== SHT_DYNAMIC) continue;
    const strtab = section(dyn.link);
    const entry = is64 ? 16 : 8;
    const names: string[] = [];
    for (let o = dyn.offset; o + entry <= dyn.offset + dyn.size; o += entry) {
      const tag = word(o);
      if (tag === DT_NULL) break;
      if (tag !== DT_NEEDED) continue;
      const start = strtab.offset + word(o + entry / 2);
      const end = b.indexOf(0, start);
      if (end < 0) return undefined;
      names.push(b.toString('latin1', start, end));
    }
    return names;
  }
  return undefined;
}
