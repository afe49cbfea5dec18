import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AVERAGE_CHUNK_SIZE,
  chunkBoundaries,
  Chunker,
  type ChunkerOptions,
  GEAR_SEED,
  gearTable,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
} from "../chunking/fastcdc.ts";

Deno.test.sanitizer({ ops: true, resources: true });

const KiB = 1024;
const MiB = 1024 * KiB;
const SEED = 20160622;
/** The test sizes of the vectors: small enough for a few MiB to give a few hundred chunks. */
const TEST_SIZES: ChunkerOptions = { minSize: 2 * KiB, averageSize: 8 * KiB, maxSize: 64 * KiB };
/** Tiny sizes for the property tests, so short inputs hold many cuts. */
const TINY_SIZES: ChunkerOptions = { minSize: 64, averageSize: 256, maxSize: 1024 };
/** Seed of the vectors' input. */
const INPUT_SEED = 2016;

/**
 * `length` bytes of xorshift32 (13, 17, 5) from `seed`, each 32-bit state written little-endian:
 * the input of the vectors, easy to regenerate in any language.
 */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    if (i % 4 === 0) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
    }
    bytes[i] = x >>> (8 * (i % 4));
  }
  return bytes;
}

/** Pushes `bytes` cut at `splits` (offsets into `bytes`, any order, duplicates allowed). */
function boundariesInPieces(
  bytes: Uint8Array,
  splits: number[],
  options: ChunkerOptions,
): number[] {
  const chunker = new Chunker(options);
  const ends: number[] = [];
  let from = 0;
  for (const split of [...splits].sort((a, b) => a - b).concat(bytes.length)) {
    ends.push(...chunker.push(bytes.subarray(from, split)));
    from = split;
  }
  const last = chunker.finish();
  if (last !== undefined) ends.push(last);
  return ends;
}

function lengths(ends: number[]): number[] {
  return ends.map((end, k) => end - (k === 0 ? 0 : ends[k - 1]));
}

/** A test that runs with no permissions at all: the chunker is pure. */
function pureTest(name: string, fn: () => void): void {
  Deno.test({ name, permissions: "none", fn });
}

// Vector 1: boundaries of pseudoRandomBytes(2 MiB, 2016) with TEST_SIZES (2 KiB / 8 KiB / 64 KiB,
// the default normalization level 1), 209 of them.
// deno-fmt-ignore
const TEST_SIZE_BOUNDARIES = [
  13445, 25238, 34714, 45179, 57925, 70719, 82170, 100509, 109321, 112004,
  120665, 128912, 140969, 153277, 157604, 164569, 177708, 200960, 210611, 225569,
  232571, 247343, 257970, 274733, 294631, 303997, 314683, 322674, 326984, 336847,
  347638, 350528, 362363, 369687, 380031, 387183, 401008, 407390, 418011, 428838,
  437393, 451156, 464619, 474938, 488998, 492947, 502253, 504516, 515949, 525376,
  533687, 542534, 550783, 559782, 568710, 580120, 588908, 598345, 604539, 608618,
  616904, 626238, 637567, 643317, 658085, 668429, 672683, 684046, 701864, 716522,
  725320, 745077, 747364, 767471, 771372, 774891, 780029, 788748, 797258, 812321,
  832197, 842811, 847505, 859661, 870050, 884766, 898372, 906048, 913889, 928463,
  939526, 948670, 952366, 954612, 965685, 975922, 985026, 993831, 1002682, 1013997,
  1019670, 1022496, 1028621, 1051096, 1059647, 1073267, 1076534, 1084690, 1097175, 1108899,
  1118460, 1127220, 1137782, 1147008, 1162023, 1172725, 1182331, 1191119, 1194740, 1214443,
  1217067, 1225554, 1242307, 1247976, 1257853, 1260755, 1269657, 1273668, 1283690, 1296881,
  1303423, 1315818, 1321238, 1331485, 1335411, 1343099, 1355570, 1364111, 1373026, 1382489,
  1391399, 1401865, 1408434, 1427637, 1438538, 1447596, 1457611, 1463939, 1469395, 1481267,
  1489587, 1498920, 1514749, 1524756, 1529866, 1534632, 1547786, 1567358, 1575360, 1587727,
  1598663, 1608850, 1625195, 1634065, 1655071, 1666992, 1674581, 1686587, 1695821, 1705141,
  1715571, 1723439, 1733079, 1740892, 1750049, 1784258, 1791953, 1796384, 1807877, 1815177,
  1826611, 1836580, 1848245, 1850848, 1868497, 1880571, 1891220, 1903741, 1912437, 1921519,
  1930878, 1942269, 1954337, 1958082, 1974405, 1980989, 1992292, 2005413, 2016720, 2024230,
  2037155, 2049091, 2059633, 2062935, 2073914, 2079535, 2082230, 2090166, 2097152,
];

// Vector 2: boundaries of pseudoRandomBytes(24 MiB, 2016) with the default sizes (256 KiB / 512 KiB / 8 MiB,
// normalization level 1). Both vectors were cut again by an independent implementation of the rule in
// docs/chunking.md (Python, written from the document) and matched.
// deno-fmt-ignore
const DEFAULT_SIZE_BOUNDARIES = [
  580120, 1723477, 2364961, 2669820, 3345148, 4102033, 4544819,
  4827181, 5692344, 6555473, 6826712, 7154571, 7885159, 8443313,
  9408367, 10439352, 10796511, 11671481, 12590601, 13480732, 14126112,
  14763520, 15436315, 15725630, 16420468, 17297779, 18504759, 19429998,
  20439380, 21047138, 21469918, 21882700, 23074167, 23943118, 24227184,
  24839158, 25165824,
];

// Vector 3: the same input at the default sizes with normalization level 2, the default until
// 2026-12-07: chunk lists stored before then were cut so.
// deno-fmt-ignore
const LEVEL_2_BOUNDARIES = [
  580120, 1723477, 2364961, 3136705, 3736427, 4310144, 4827181,
  5533801, 6087828, 6688090, 7078859, 7605814, 8140943, 8895089,
  9408367, 10027416, 10439352, 11071986, 11671481, 12420789, 13179533,
  13727839, 14269587, 14835070, 15406669, 15725630, 16420468, 17097105,
  17640590, 18332970, 18866960, 19429998, 20096584, 20646211, 21469918,
  21882700, 22613527, 23292073, 23943118, 24230747, 24839158, 25165824,
];

pureTest("the default gear table is SplitMix64 from the seed 'fastcdc1', high 32 bits", () => {
  assert.equal(GEAR_SEED, 0x6661737463646331n);
  const table = gearTable(GEAR_SEED);
  assert.deepEqual(
    Array.from(table.subarray(0, 4), (entry) => (entry >>> 0).toString(16)),
    ["dc55cad3", "24c2b0d6", "ad045f85", "82a53fa9"],
  );
  // SplitMix64's published first outputs from seed 0 are 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4.
  assert.deepEqual(
    Array.from(gearTable(0n).subarray(0, 2), (entry) => (entry >>> 0).toString(16)),
    ["e220a839", "6e789e6a"],
  );
  assert.equal(new Set(table).size, 256, "no two entries alike");
});

pureTest("vector: 2 MiB of pseudo-random bytes with 2/8/64 KiB sizes cut exactly here", () => {
  const input = pseudoRandomBytes(2 * MiB, INPUT_SEED);
  assert.deepEqual(chunkBoundaries(input, TEST_SIZES), TEST_SIZE_BOUNDARIES);
});

pureTest(
  "vector: 24 MiB of pseudo-random bytes with the default 256 KiB/512 KiB/8 MiB sizes",
  () => {
    const input = pseudoRandomBytes(24 * MiB, INPUT_SEED);
    assert.deepEqual(chunkBoundaries(input), DEFAULT_SIZE_BOUNDARIES);
  },
);

pureTest("vector: the same 24 MiB at the default sizes with normalization level 2", () => {
  const input = pseudoRandomBytes(24 * MiB, INPUT_SEED);
  assert.deepEqual(chunkBoundaries(input, { normalization: 2 }), LEVEL_2_BOUNDARIES);
});

pureTest(
  "the vectors are sane: every chunk but the last within (min, max], mean near the target",
  () => {
    const cases = [
      { ends: TEST_SIZE_BOUNDARIES, total: 2 * MiB, min: 2 * KiB, avg: 8 * KiB, max: 64 * KiB },
      {
        ends: DEFAULT_SIZE_BOUNDARIES,
        total: 24 * MiB,
        min: MIN_CHUNK_SIZE,
        avg: AVERAGE_CHUNK_SIZE,
        max: MAX_CHUNK_SIZE,
      },
    ];
    for (const { ends, total, min, avg, max } of cases) {
      assert.equal(ends.at(-1), total);
      const sizes = lengths(ends);
      for (const size of sizes.slice(0, -1)) {
        assert.ok(
          size > min && size <= max,
          `chunk of ${size}`,
        );
      }
      const mean = total / ends.length;
      // Normalized chunking with min = avg / 2 or avg / 4 lands the mean a little above avg.
      assert.ok(mean >= avg && mean <= 1.5 * avg, `mean ${mean} for a target of ${avg}`);
    }
  },
);

pureTest(
  "split invariance: the 2 MiB vector pushed one byte at a time cuts at the same offsets",
  () => {
    const input = pseudoRandomBytes(2 * MiB, INPUT_SEED);
    const chunker = new Chunker(TEST_SIZES);
    const ends: number[] = [];
    for (let i = 0; i < input.length; i++) {
      for (const end of chunker.push(input.subarray(i, i + 1))) ends.push(end);
    }
    const last = chunker.finish();
    if (last !== undefined) ends.push(last);
    assert.deepEqual(ends, TEST_SIZE_BOUNDARIES);
  },
);

pureTest("split invariance: any split of any bytes gives the same boundaries as the whole", () => {
  const input = fc.oneof(
    fc.uint8Array({ maxLength: 6000 }),
    fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer()).map(([length, seed]) =>
      pseudoRandomBytes(length, seed)
    ),
    // Low entropy: runs of a few values, where cuts at maxSize and at content mix.
    fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 1500 })), {
      maxLength: 20,
    }).map((runs) => new Uint8Array(runs.flatMap(([value, count]) => Array(count).fill(value)))),
  );
  fc.assert(
    fc.property(
      input.chain((bytes) =>
        fc.tuple(fc.constant(bytes), fc.array(fc.nat({ max: bytes.length }), { maxLength: 40 }))
      ),
      ([bytes, splits]) => {
        assert.deepEqual(
          boundariesInPieces(bytes, splits, TINY_SIZES),
          chunkBoundaries(bytes, TINY_SIZES),
        );
      },
    ),
    { seed: SEED, numRuns: 500 },
  );
});

pureTest("split invariance holds at the default sizes for random pushes over 24 MiB", () => {
  const input = pseudoRandomBytes(24 * MiB, INPUT_SEED);
  const random = pseudoRandomBytes(4 * 64, SEED);
  const splits = Array.from(
    { length: 64 },
    (_, k) => new DataView(random.buffer).getUint32(4 * k, true) % input.length,
  );
  assert.deepEqual(boundariesInPieces(input, splits, {}), DEFAULT_SIZE_BOUNDARIES);
});

pureTest("an empty stream has no chunks", () => {
  assert.deepEqual(chunkBoundaries(new Uint8Array(0), TEST_SIZES), []);
  const chunker = new Chunker(TEST_SIZES);
  assert.deepEqual(chunker.push(new Uint8Array(0)), []);
  assert.equal(chunker.finish(), undefined);
});

pureTest("a stream no longer than minSize is one chunk", () => {
  const input = pseudoRandomBytes(2 * KiB, INPUT_SEED);
  assert.deepEqual(chunkBoundaries(input.subarray(0, 1), TEST_SIZES), [1]);
  assert.deepEqual(chunkBoundaries(input.subarray(0, 2 * KiB - 1), TEST_SIZES), [2 * KiB - 1]);
  assert.deepEqual(chunkBoundaries(input, TEST_SIZES), [2 * KiB]);
});

pureTest("a run of zeros longer than maxSize is cut at maxSize, and again every maxSize", () => {
  const total = 3 * 64 * KiB + 1000;
  assert.deepEqual(chunkBoundaries(new Uint8Array(total), TEST_SIZES), [
    64 * KiB,
    128 * KiB,
    192 * KiB,
    total,
  ]);
  const defaults = chunkBoundaries(new Uint8Array(MAX_CHUNK_SIZE + 1));
  assert.deepEqual(defaults, [MAX_CHUNK_SIZE, MAX_CHUNK_SIZE + 1]);
});

pureTest("a stream that ends exactly at a cut has no empty last chunk", () => {
  const chunker = new Chunker(TEST_SIZES);
  assert.deepEqual(chunker.push(new Uint8Array(64 * KiB)), [64 * KiB]);
  assert.equal(chunker.position, 64 * KiB);
  assert.equal(chunker.finish(), undefined);
});

pureTest(
  "finish readies the chunker for the next stream, which cuts as a fresh chunker would",
  () => {
    const input = pseudoRandomBytes(2 * MiB, INPUT_SEED);
    const chunker = new Chunker(TEST_SIZES);
    chunker.push(pseudoRandomBytes(12_345, 7));
    chunker.finish();
    assert.equal(chunker.position, 0);
    const ends = chunker.push(input);
    ends.push(chunker.finish()!);
    assert.deepEqual(ends, TEST_SIZE_BOUNDARIES);
  },
);

/**
 * Boundaries of `edited` that are boundaries of `original` moved by `shift`, counted from the
 * first boundary past `after` in `original`.
 */
function resynchronized(original: number[], edited: number[], shift: number, after: number) {
  const moved = new Set(original.filter((end) => end > after).map((end) => end + shift));
  const later = edited.filter((end) => end > after + shift);
  return { later, kept: later.filter((end) => moved.has(end)) };
}

pureTest(
  "inserting a few bytes near the start moves later boundaries by the insert, unchanged",
  () => {
    const input = pseudoRandomBytes(4 * MiB, INPUT_SEED);
    const original = chunkBoundaries(input, TEST_SIZES);
    for (const [at, insert] of [[100, 7], [0, 1], [3000, 13], [9000, 64]]) {
      const edited = new Uint8Array(input.length + insert);
      edited.set(input.subarray(0, at));
      edited.set(pseudoRandomBytes(insert, at + 1), at);
      edited.set(input.subarray(at), at + insert);
      const ends = chunkBoundaries(edited, TEST_SIZES);
      // Only the chunk holding the insert and at most the next differ; from there on every cut is the
      // old one moved by the insert: the cutter resynchronizes because cuts depend on content only.
      const changedFirst = ends.findIndex((end) =>
        original.includes(end - insert) && end > at + insert
      );
      assert.ok(changedFirst >= 0 && changedFirst <= 2, `resynchronized at chunk ${changedFirst}`);
      assert.deepEqual(
        ends.slice(changedFirst),
        original.slice(original.indexOf(ends[changedFirst] - insert)).map((end) => end + insert),
      );
      const { later, kept } = resynchronized(original, ends, insert, at);
      assert.ok(kept.length >= later.length - 2, `${kept.length} of ${later.length} kept`);
    }
  },
);

pureTest("overwriting 1 KiB in the middle changes at most the chunks around it", () => {
  const input = pseudoRandomBytes(4 * MiB, INPUT_SEED);
  const original = chunkBoundaries(input, TEST_SIZES);
  const edited = input.slice();
  edited.set(pseudoRandomBytes(KiB, 99), 2 * MiB);
  const ends = chunkBoundaries(edited, TEST_SIZES);
  const before = new Set(original);
  const changed = ends.filter((end) => !before.has(end));
  assert.ok(changed.length <= 2, `${changed.length} new boundaries`);
  assert.ok(ends.filter((end) => before.has(end)).length >= original.length - 3);
});

pureTest("a different gear seed cuts differently, the same seed the same", () => {
  const input = pseudoRandomBytes(MiB, INPUT_SEED);
  const seeded = chunkBoundaries(input, { ...TEST_SIZES, seed: 42n });
  assert.notDeepEqual(seeded, chunkBoundaries(input, TEST_SIZES));
  assert.deepEqual(seeded, chunkBoundaries(input, { ...TEST_SIZES, seed: 42n }));
  assert.deepEqual(
    chunkBoundaries(input, { ...TEST_SIZES, seed: GEAR_SEED }),
    chunkBoundaries(input, TEST_SIZES),
  );
});

pureTest("sizes are validated: a power-of-two average, 1 <= min < avg < max, integers", () => {
  const bad: ChunkerOptions[] = [
    { averageSize: 3000 },
    { averageSize: 32, minSize: 16, maxSize: 64 },
    { averageSize: 512 * MiB },
    { minSize: 0 },
    { minSize: AVERAGE_CHUNK_SIZE },
    { minSize: 1.5 },
    { maxSize: AVERAGE_CHUNK_SIZE },
    { maxSize: 2 * 1024 * MiB },
    { maxSize: Number.NaN },
    { normalization: 4 },
    { normalization: -1 },
  ];
  for (const options of bad) {
    assert.throws(() => new Chunker(options), RangeError, JSON.stringify(options));
  }
  assert.deepEqual(new Chunker().sizes, {
    minSize: 256 * KiB,
    averageSize: 512 * KiB,
    maxSize: 8 * MiB,
    normalization: 1,
  });
});
