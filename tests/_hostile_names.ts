import { utf8 } from "./_helpers.ts";

/** Names PROTOCOL.md refuses, as raw bytes. */
export const HOSTILE_NAMES: Array<[string, Uint8Array]> = [
  ["parent component", utf8("../etc/passwd")],
  ["parent in the middle", utf8("a/../../b")],
  ["lone parent", utf8("..")],
  ["current component", utf8("./a")],
  ["lone dot", utf8(".")],
  ["absolute path", utf8("/etc/passwd")],
  ["trailing slash", utf8("a/")],
  ["double slash", utf8("a//b")],
  ["backslash", utf8("..\\windows")],
  ["NUL", utf8("a\0b")],
  ["newline", utf8("a\nb")],
  ["escape byte", utf8("a\x1bb")],
  ["DEL", utf8("a\x7fb")],
  ["invalid UTF-8", new Uint8Array([0x61, 0xff, 0x62])],
  ["truncated UTF-8", new Uint8Array([0x61, 0xe2, 0x82])],
  ["overlong UTF-8 slash", new Uint8Array([0x61, 0xc0, 0xaf, 0x62])],
  ["UTF-16 surrogate in UTF-8", new Uint8Array([0xed, 0xa0, 0x80])],
  ["component of 256 bytes", utf8("a".repeat(256))],
  ["name of 1025 bytes", utf8(("a".repeat(200) + "/").repeat(5) + "a".repeat(20))],
];
