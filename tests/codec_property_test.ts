import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import {
  decodeList,
  encodeList,
  encodeRequestHeader,
  encodeResponseHeader,
  InvalidNameError,
  MAX_NAME_BYTES,
  Op,
  parseRequestHeader,
  parseResponseHeader,
  ProtocolError,
  Status,
  validateName,
} from "../protocol/mod.ts";
import { nastyNameBytes } from "../fuzz/arbitraries.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const SEED = 20261125;
const encoder = new TextEncoder();
// deno-lint-ignore no-control-regex -- control bytes are exactly what names must not hold
const FORBIDDEN = /[\x00-\x1f\x7f\\]/;
// deno-lint-ignore no-control-regex -- as above, plus the separator, to build valid components
const FORBIDDEN_IN_COMPONENT = /[\x00-\x1f\x7f/\\]/g;

/** Names that pass the rules: components of safe characters, including non-ASCII. */
const validName = fc
  .array(
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 })
      .map((s) => s.replace(FORBIDDEN_IN_COMPONENT, "_"))
      .filter((s) => s !== "." && s !== ".." && s.length > 0 && encoder.encode(s).length <= 255),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.join("/"))
  .filter((name) => encoder.encode(name).length <= MAX_NAME_BYTES);

Deno.test("decoding any bytes yields a header, 'need more', or a typed error, never anything else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      for (const parse of [parseRequestHeader, parseResponseHeader]) {
        try {
          const parsed = parse(bytes);
          if (parsed) assert.ok(parsed.byteLength <= bytes.length);
        } catch (error) {
          assert.ok(error instanceof ProtocolError, String(error));
        }
      }
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

Deno.test("a request header decodes to exactly what was encoded", () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 0xffff_ffff }),
      fc.constantFrom(Op.Backup, Op.Retrieve, Op.Delete, Op.List),
      validName,
      fc.nat({ max: 0xffff_ffff }),
      (userId, op, name, size) => {
        const bytes = encodeRequestHeader({ userId, op, name, payloadSize: size });
        const parsed = parseRequestHeader(bytes);
        assert.deepEqual(parsed, {
          header: {
            userId,
            version: 1,
            op,
            name: op === Op.List ? "" : name,
            payloadSize: op === Op.Backup ? size : 0,
          },
          byteLength: bytes.length,
        });
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});

Deno.test("a response header decodes to exactly what was encoded", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...Object.values(Status)),
      validName,
      fc.nat({ max: 0xffff_ffff }),
      (status, name, size) => {
        const bytes = encodeResponseHeader({ status, name, payloadSize: size });
        const parsed = parseResponseHeader(bytes)!;
        assert.equal(parsed.byteLength, bytes.length);
        assert.equal(parsed.header.status, status);
        const withName = [210, 211, 212, 1001].includes(status);
        assert.equal(parsed.header.name, withName ? name : "");
        assert.equal(parsed.header.payloadSize, [210, 211].includes(status) ? size : 0);
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});

Deno.test("a name either passes unchanged or is refused with InvalidNameError", () => {
  fc.assert(
    fc.property(nastyNameBytes, (bytes) => {
      try {
        const name = validateName(bytes);
        assert.deepEqual(encoder.encode(name), bytes, "what is stored is what was sent");
        for (const part of name.split("/")) assert.ok(part !== "" && part !== "." && part !== "..");
        assert.ok(!FORBIDDEN.test(name));
      } catch (error) {
        assert.ok(error instanceof InvalidNameError, String(error));
      }
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

Deno.test("a list decodes to its names in byte order", () => {
  fc.assert(
    fc.property(fc.uniqueArray(validName, { maxLength: 20 }), (names) => {
      const decoded = decodeList(encodeList(names));
      assert.deepEqual([...decoded].sort(), [...names].sort());
      for (let i = 1; i < decoded.length; i++) {
        assert.ok(Buffer.compare(encoder.encode(decoded[i - 1]), encoder.encode(decoded[i])) < 0);
      }
    }),
    { seed: SEED, numRuns: 500 },
  );
});
