/**
 * A tar archive's framing (POSIX pax, as GNU tar and restic's `dump` write it), for `dump` of a
 * folder: a 512-byte ustar header per entry, preceded by a pax extended header for what ustar
 * cannot hold (a name or link target over 100 bytes, a size of 8 GiB or more, ids over 2,097,151,
 * owner names over 31 bytes, times with milliseconds); a file's bytes padded to 512; two zero
 * blocks at the end. Pure: the caller writes the pieces in order.
 *
 * @example
 * ```ts
 * import { tarHeader, tarPadding } from "./tar_stream.ts";
 * import assert from "node:assert/strict";
 * const header = tarHeader({ path: "a.txt", type: "file", mode: 0o644, size: 2, mtimeMs: 0, uid: 0, gid: 0 });
 * assert.equal(header.length, 512);
 * assert.equal(new TextDecoder().decode(header.subarray(257, 262)), "ustar");
 * assert.equal(tarPadding(2).length, 510);
 * ```
 *
 * @module
 */

/** One entry of the archive. */
export interface TarEntry {
  /** Its path in the archive, relative (no leading `/`); folders without a trailing `/`. */
  path: string;
  /** What it is. */
  type: "file" | "dir" | "symlink";
  /** Permission bits. */
  mode: number;
  /** Bytes that follow the header (files only; 0 otherwise). */
  size: number;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
  /** Numeric owner. */
  uid: number;
  /** Numeric group. */
  gid: number;
  /** Owner's name, where known. */
  user?: string;
  /** Group's name, where known. */
  group?: string;
  /** A link's target. */
  target?: string;
}

/** Bytes of a tar block. */
export const TAR_BLOCK = 512;

const encoder = new TextEncoder();
const TYPE_FLAGS = { file: "0", dir: "5", symlink: "2" } as const;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** The header blocks of `entry`: a pax extended header first where ustar's fields do not suffice. */
export function tarHeader(entry: TarEntry): Uint8Array {
  const path = entry.type === "dir" ? `${entry.path}/` : entry.path;
  const records: string[] = [];
  const pathBytes = encoder.encode(path);
  if (pathBytes.length > 100 || !isAscii(path)) records.push(paxRecord("path", path));
  const target = entry.target ?? "";
  if (encoder.encode(target).length > 100 || !isAscii(target)) {
    records.push(paxRecord("linkpath", target));
  }
  if (entry.size > MAX_OCTAL_11) records.push(paxRecord("size", String(entry.size)));
  if (entry.uid > MAX_OCTAL_7) records.push(paxRecord("uid", String(entry.uid)));
  if (entry.gid > MAX_OCTAL_7) records.push(paxRecord("gid", String(entry.gid)));
  for (const [key, name] of [["uname", entry.user], ["gname", entry.group]] as const) {
    if (name !== undefined && (encoder.encode(name).length > 31 || !isAscii(name))) {
      records.push(paxRecord(key, name));
    }
  }
  if (entry.mtimeMs % 1000 !== 0) {
    records.push(paxRecord("mtime", (entry.mtimeMs / 1000).toFixed(3)));
  }
  const ustar = ustarBlock({ ...entry, path }, TYPE_FLAGS[entry.type]);
  if (records.length === 0) return ustar;
  const body = encoder.encode(records.join(""));
  const paxName = `PaxHeaders/${asciiTail(path, 80)}`;
  const pax = ustarBlock(
    { ...entry, path: paxName, target: "", size: body.length, user: "", group: "" },
    "x",
  );
  const out = new Uint8Array(TAR_BLOCK + body.length + tarPadding(body.length).length + TAR_BLOCK);
  out.set(pax);
  out.set(body, TAR_BLOCK);
  out.set(ustar, out.length - TAR_BLOCK);
  return out;
}

/** The zero bytes that pad `size` bytes of content to a whole block. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
}

/** The archive's end: two zero blocks. */
export function tarEnd(): Uint8Array {
  return new Uint8Array(2 * TAR_BLOCK);
}

function ustarBlock(entry: TarEntry, typeFlag: string): Uint8Array {
  const block = new Uint8Array(TAR_BLOCK);
  const put = (text: string, at: number, length: number) =>
    block.set(encoder.encode(text).subarray(0, length), at);
  const octal = (value: number, at: number, digits: number) =>
    put(Math.min(value, 8 ** digits - 1).toString(8).padStart(digits, "0"), at, digits);
  put(asciiTail(entry.path, 100), 0, 100);
  octal(entry.mode & 0o7777, 100, 7);
  octal(entry.uid, 108, 7);
  octal(entry.gid, 116, 7);
  octal(entry.size, 124, 11);
  octal(Math.max(0, Math.floor(entry.mtimeMs / 1000)), 136, 11);
  block.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  put(typeFlag, 156, 1);
  put(asciiTail(entry.target ?? "", 100), 157, 100);
  put("ustar\x0000", 257, 8);
  if (entry.user && isAscii(entry.user)) put(entry.user, 265, 31);
  if (entry.group && isAscii(entry.group)) put(entry.group, 297, 31);
  const sum = block.reduce((total, byte) => total + byte, 0);
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  return block;
}

// "LENGTH key=value\n", where LENGTH counts its own digits too.
function paxRecord(key: string, value: string): string {
  const rest = encoder.encode(` ${key}=${value}\n`).length;
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return `${length} ${key}=${value}\n`;
}

function isAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

// What ustar's own field can hold when a pax record carries the whole: its last ASCII characters.
function asciiTail(text: string, length: number): string {
  return text.replace(/[^\x20-\x7e]/g, "_").slice(-length);
}
