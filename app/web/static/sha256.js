/* Incremental SHA-256 (FIPS 180-4) for files of any size.
 *
 * WebCrypto's digest() takes the whole input at once, so hashing a disk image with it
 * would hold the image in memory, and it is missing outside secure contexts (a vault
 * reached over plain HTTP on a LAN). This one takes the file a slice at a time.
 */
"use strict";
(function (global) {
  const K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  const BIG_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 0;

  class Sha256 {
    constructor() {
      this.h = new Int32Array([
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
      ]);
      this.w = new Int32Array(64);
      this.tail = new Uint8Array(64);
      this.tailLen = 0;
      this.total = 0;
    }

    update(data) {
      const n = data.length;
      let i = 0;
      this.total += n;
      if (this.tailLen > 0) {
        const take = Math.min(64 - this.tailLen, n);
        this.tail.set(data.subarray(0, take), this.tailLen);
        this.tailLen += take;
        i = take;
        if (this.tailLen < 64) return this;
        this.block(this.tail, 0);
        this.tailLen = 0;
      }
      if ((data.byteOffset + i) % 4 === 0) {
        // aligned: read whole words (4x fewer loads than bytes), as most slices are
        const words = new Int32Array(data.buffer, data.byteOffset + i, (n - i) >> 2);
        let wi = 0;
        for (; i + 64 <= n; i += 64, wi += 16) this.words(words, wi);
      }
      for (; i + 64 <= n; i += 64) this.block(data, i);
      if (i < n) {
        this.tail.set(data.subarray(i), 0);
        this.tailLen = n - i;
      }
      return this;
    }

    block(p, off) {
      const w = this.w;
      for (let t = 0; t < 16; t++) {
        const j = off + 4 * t;
        w[t] = (p[j] << 24) | (p[j + 1] << 16) | (p[j + 2] << 8) | p[j + 3];
      }
      this.compress();
    }

    words(v, off) {
      const w = this.w;
      for (let t = 0; t < 16; t++) {
        const x = v[off + t];  // little-endian platforms: swap to the big-endian word
        w[t] = BIG_ENDIAN ? x : (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
      }
      this.compress();
    }

    compress() {
      const w = this.w;
      for (let t = 16; t < 64; t++) {
        const x = w[t - 15];
        const y = w[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
      }
      const h = this.h;
      let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
      for (let t = 0; t < 64; t++) {
        const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const t1 = (k + s1 + ((e & f) ^ (~e & g)) + K[t] + w[t]) | 0;
        const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
        k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
      h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + k) | 0;
    }

    hex() {
      const total = this.total;
      const pad = new Uint8Array((this.tailLen < 56 ? 64 : 128) - this.tailLen);
      pad[0] = 0x80;
      const view = new DataView(pad.buffer);
      // the message length in bits, big-endian in the last 8 bytes (2^53 bytes is plenty)
      view.setUint32(pad.length - 8, Math.floor(total / 0x20000000));
      view.setUint32(pad.length - 4, (total * 8) >>> 0);
      this.update(pad);
      let out = "";
      for (const v of this.h) out += (v >>> 0).toString(16).padStart(8, "0");
      return out;
    }
  }

  global.LocardSha256 = Sha256;
})(window);
