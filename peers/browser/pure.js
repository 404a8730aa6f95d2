// pure.js: the page's pure helpers: the protocol's byte pattern (Pattern, pattern), an
// incremental SHA-256 (Sha256), WebCrypto's one-shot SHA-256 (sha256hex) and the self-test of
// those (selfTestVectors). No DOM and no state of the page, so this file can be loaded and
// checked outside a browser (it needs only crypto.subtle).
//
// The browser peer is several classic scripts sharing the page's global scope, loaded in this
// order by peer.html: pure.js, wire.js, session.js, channels.js, media.js, handlers.js, peer.js.
"use strict";

// The protocol's pattern stream (`pattern` / `Pattern` in the protocol crate): xorshift32 from
// 0x9E3779B9 ^ seed (1 if that is 0), one step per byte, the byte being the top 8 bits of the
// state. `x` is kept as an int32 between steps: `^` and `<<` give the same bits as on a uint32,
// and `>>>` reads it as unsigned, so the stream is bit-identical to the Rust one.
class Pattern {
  constructor(seed) {
    const x = (0x9e3779b9 ^ seed) >>> 0;
    this.x = x === 0 ? 1 : x;
  }

  // The next `len` bytes of the stream, as a new Uint8Array.
  next(len) {
    const out = new Uint8Array(len);
    let x = this.x;
    for (let i = 0; i < len; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x >>> 24;
    }
    this.x = x >>> 0;
    return out;
  }
}

function pattern(seed, len) {
  return new Pattern(seed).next(len);
}

// SHA-256 round constants (FIPS 180-4, 4.2.2), as int32.
const SHA256_K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

// Incremental SHA-256. crypto.subtle.digest only hashes one buffer in one go, and is
// asynchronous; bulk transfers need a running digest over many messages, updated synchronously
// in arrival order. Usage: `new Sha256()`, `update(uint8array)` any number of times, `hex()` once.
class Sha256 {
  constructor() {
    this.h = new Int32Array([
      0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ]);
    this.w = new Int32Array(64);
    // A partial block carried over between updates.
    this.block = new Uint8Array(64);
    this.blockLen = 0;
    // Total bytes hashed; a Number is exact far beyond any transfer size (2^53).
    this.length = 0;
    this.finished = false;
  }

  update(bytes) {
    if (this.finished) throw new Error("Sha256.update after hex()");
    const n = bytes.length;
    let pos = 0;
    this.length += n;
    if (this.blockLen > 0) {
      const take = Math.min(64 - this.blockLen, n);
      this.block.set(bytes.subarray(0, take), this.blockLen);
      this.blockLen += take;
      pos = take;
      if (this.blockLen < 64) return this;
      this.compress(this.block, 0);
      this.blockLen = 0;
    }
    // Whole blocks straight from the input, without copying.
    for (; pos + 64 <= n; pos += 64) this.compress(bytes, pos);
    if (pos < n) {
      this.block.set(bytes.subarray(pos), 0);
      this.blockLen = n - pos;
    }
    return this;
  }

  // Lowercase hex digest. Pads and finishes the hash: no update afterwards.
  hex() {
    if (!this.finished) {
      const bits = this.length * 8;
      const block = this.block;
      block[this.blockLen++] = 0x80;
      if (this.blockLen > 56) {
        block.fill(0, this.blockLen);
        this.compress(block, 0);
        this.blockLen = 0;
      }
      block.fill(0, this.blockLen);
      // The message length in bits, 64-bit big-endian.
      const hi = Math.floor(bits / 0x100000000);
      const lo = bits >>> 0;
      block[56] = hi >>> 24;
      block[57] = hi >>> 16;
      block[58] = hi >>> 8;
      block[59] = hi;
      block[60] = lo >>> 24;
      block[61] = lo >>> 16;
      block[62] = lo >>> 8;
      block[63] = lo;
      this.compress(block, 0);
      this.finished = true;
    }
    let out = "";
    for (let i = 0; i < 8; i++) out += (this.h[i] >>> 0).toString(16).padStart(8, "0");
    return out;
  }

  // One 64-byte block of `b` at `off` into the state. Int32 arithmetic throughout: sums of a
  // few int32s are exact doubles, and `| 0` wraps them modulo 2^32.
  compress(b, off) {
    const w = this.w;
    const k = SHA256_K;
    for (let i = 0; i < 16; i++, off += 4) {
      w[i] = (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15];
      const y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    const h = this.h;
    let a = h[0];
    let bb = h[1];
    let c = h[2];
    let d = h[3];
    let e = h[4];
    let f = h[5];
    let g = h[6];
    let hh = h[7];
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + k[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + S0 + maj) | 0;
    }
    h[0] = (h[0] + a) | 0;
    h[1] = (h[1] + bb) | 0;
    h[2] = (h[2] + c) | 0;
    h[3] = (h[3] + d) | 0;
    h[4] = (h[4] + e) | 0;
    h[5] = (h[5] + f) | 0;
    h[6] = (h[6] + g) | 0;
    h[7] = (h[7] + hh) | 0;
  }
}

async function sha256hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The page's own self-test of the byte pattern and both SHA-256 paths: the values the
// conformance kit (harness/tests/conformance.rs) compares with the protocol crate's generator
// and Rust's sha2. Called through WebDriver only, never by the harness's runs. (A function
// declaration, so that it is reachable from every browser's script-execution scope.)
async function selfTestVectors() {
  const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const whole = pattern(7, 100000);
  const gen = new Pattern(7);
  const chunked = new Uint8Array(100000);
  chunked.set(gen.next(333), 0);
  chunked.set(gen.next(99667), 333);
  const h = new Sha256();
  h.update(whole.subarray(0, 1000));
  h.update(whole.subarray(1000, 1001));
  h.update(whole.subarray(1001));
  return {
    first: hex(pattern(0, 8)),
    seed1: hex(pattern(1, 16)),
    chunked_equal: hex(chunked) === hex(whole),
    incremental: h.hex(),
    subtle: await sha256hex(whole),
  };
}
