// Ledger page: is today's tree an append-only extension of the one this browser saw last?
//
// The browser keeps the last checkpoint it saw (size, root) in localStorage, fetches an
// RFC 9162 consistency proof from the API and checks it itself with WebCrypto, so the
// answer does not rest on the server's word. WebCrypto exists only in secure contexts
// (HTTPS, or localhost); elsewhere the server checks the proof and the page says so.
// Sizes use BigInt: tree sizes pass 2^31 long before they pass 2^53.
"use strict";

(function () {
  const el = document.getElementById("consistency");
  if (!el) return;
  const origin = el.dataset.origin;
  const size = BigInt(el.dataset.size);
  const root = el.dataset.root;
  const key = "locard.checkpoint." + origin;

  function show(state, text) {
    el.textContent = text;
    el.className = "consistency " + state;
    el.dataset.state = state;
  }

  function remember() {
    localStorage.setItem(
      key,
      JSON.stringify({ size: size.toString(), root: root, seen: new Date().toISOString() })
    );
  }

  const forget = document.getElementById("forget");
  if (forget) {
    forget.addEventListener("click", function () {
      localStorage.removeItem(key);
      show("info", "Forgotten. The next visit starts from the checkpoint shown now.");
    });
  }

  function hex2bytes(h) {
    const out = new Uint8Array(h.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
    return out;
  }

  function bytes2hex(b) {
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  async function nodeHash(left, right) {
    const buf = new Uint8Array(65);
    buf[0] = 1;
    buf.set(left, 1);
    buf.set(right, 33);
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }

  function isPow2(n) {
    return n > 0n && (n & (n - 1n)) === 0n;
  }

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // RFC 9162 section 2.1.4.2, as verify/merkle.py implements it.
  async function verifyConsistency(size1, size2, proofHex, root1Hex, root2Hex) {
    const root1 = hex2bytes(root1Hex);
    const root2 = hex2bytes(root2Hex);
    const path = proofHex.map(hex2bytes);
    if (size1 === size2) return path.length === 0 && equal(root1, root2);
    if (size1 === 0n || size1 > size2) return false;
    if (isPow2(size1)) path.unshift(root1);
    if (path.length === 0) return false;
    let fn = size1 - 1n;
    let sn = size2 - 1n;
    while (fn & 1n) {
      fn >>= 1n;
      sn >>= 1n;
    }
    let fr = path[0];
    let sr = path[0];
    for (const c of path.slice(1)) {
      if (sn === 0n) return false;
      if (fn & 1n || fn === sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        while (!(fn & 1n) && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      } else {
        sr = await nodeHash(sr, c);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    return sn === 0n && equal(fr, root1) && equal(sr, root2);
  }

  async function check() {
    let last = null;
    try {
      last = JSON.parse(localStorage.getItem(key) || "null");
    } catch (e) {
      last = null;
    }
    if (!last || !/^[0-9]+$/.test(String(last.size)) || !/^[0-9a-f]{64}$/.test(last.root)) {
      remember();
      show("info", "First visit from this browser: checkpoint of " + size + " events remembered.");
      return;
    }
    const oldSize = BigInt(last.size);
    const seen = last.seen ? " (seen " + last.seen.replace("T", " ").slice(0, 19) + " UTC)" : "";
    if (oldSize > size) {
      show("bad", "NOT consistent: the log has " + size + " events but you saw " + oldSize + seen + ".");
      return;
    }
    let ok;
    let how;
    if (window.crypto && crypto.subtle) {
      const r = await fetch(
        "/v1/ledger/proofs/consistency?first=" + oldSize + "&second=" + size,
        { credentials: "same-origin", headers: { Accept: "application/json" } }
      );
      if (!r.ok) throw new Error("proof request failed: " + r.status);
      const body = await r.json();
      ok = await verifyConsistency(oldSize, size, body.proof, last.root, root);
      how = "proof checked in this browser";
    } else {
      const r = await fetch(
        "/ledger/consistency?size=" + oldSize + "&root=" + last.root,
        { credentials: "same-origin", headers: { Accept: "application/json" } }
      );
      if (!r.ok) throw new Error("consistency request failed: " + r.status);
      const body = await r.json();
      ok = body.consistent === true && body.root === root;
      how = "checked by the server: this page is not served over HTTPS";
    }
    if (ok) {
      remember();
      show(
        "ok",
        "Consistent with what you saw last time: " + oldSize + " → " + size + " events" + seen + "; " + how + "."
      );
    } else {
      // Keep the old checkpoint: it is the evidence of what this browser was shown.
      show("bad", "NOT consistent with what you saw last time (" + oldSize + " events" + seen + "). The history was rewritten or this is another log.");
    }
  }

  check().catch(function (err) {
    show("warn", "Could not check consistency: " + err.message);
  });
})();
