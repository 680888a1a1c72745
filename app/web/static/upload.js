/* Browser upload over the vault's resumable upload protocol (app/uploads/views.py).
 *
 * 1. hash the file here (SHA-256, a slice at a time), so the vault can refuse bytes
 *    that differ from what the collector chose;
 * 2. open a session (POST /v1/cases/{case}/uploads) and remember it in localStorage
 *    under the file's name, size and modification time;
 * 3. PATCH the file in parts at Upload-Offset; after a failure, the vault's offset
 *    (GET /v1/uploads/{id}) is the truth, so only unacknowledged bytes go again — also
 *    after a reload, when the collector chooses the same file;
 * 4. complete (POST …/complete): the vault re-hashes, stores, seals; the receipt it
 *    answers is offered for download.
 *
 * Writes carry the session's CSRF token in X-CSRF-Token; the browser adds the Origin
 * header the API checks for cookie-authenticated writes.
 */
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const caseId = form.dataset.case;
  const csrf = form.dataset.csrf;
  const chunkBytes = Number(form.dataset.chunk);
  const maxBytes = Number(form.dataset.max);
  const input = document.getElementById("up-file");
  const button = document.getElementById("up-start");
  const panel = document.getElementById("up-panel");
  const bar = document.getElementById("up-progress");
  const statusLine = document.getElementById("up-status");
  const result = document.getElementById("up-result");
  const resumable = document.getElementById("up-resumable");
  const HASH_SLICE = 8 << 20;
  const RETRIES = 4;
  const PREFIX = "locard-upload:" + caseId + ":";

  class UploadFailed extends Error {}

  function mib(n) {
    return (n / 1048576).toFixed(1) + " MiB";
  }

  function say(phase, text, done, total) {
    panel.hidden = false;
    if (total !== undefined) {
      bar.max = total || 1;
      bar.value = done;
    }
    form.dataset.phase = phase;
    statusLine.textContent = text;
  }

  function keyFor(file) {
    return PREFIX + JSON.stringify([file.name, file.size, file.lastModified]);
  }

  function saved(file) {
    try {
      return JSON.parse(localStorage.getItem(keyFor(file)) || "null");
    } catch (e) {
      return null;
    }
  }

  function listResumable() {
    resumable.textContent = "";
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (!key || !key.startsWith(PREFIX)) continue;
      const [name, size] = JSON.parse(key.slice(PREFIX.length));
      const li = document.createElement("li");
      li.textContent = "Unfinished: " + name + " (" + mib(size) + "). Choose it again to resume.";
      resumable.appendChild(li);
    }
  }

  async function api(method, url, body) {
    const headers = { "X-CSRF-Token": csrf, Accept: "application/json" };
    const init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    let doc = null;
    try {
      doc = await resp.json();
    } catch (e) {
      doc = null;
    }
    return { status: resp.status, doc: doc };
  }

  function detail(r) {
    const d = r.doc && (r.doc.detail || r.doc.error);
    return "the vault answered " + r.status + (d ? ": " + (typeof d === "string" ? d : JSON.stringify(d)) : "");
  }

  async function hashFile(file) {
    const sha = new window.LocardSha256();
    for (let at = 0; at < file.size; at += HASH_SLICE) {
      const part = new Uint8Array(await file.slice(at, at + HASH_SLICE).arrayBuffer());
      sha.update(part);
      const done = Math.min(at + HASH_SLICE, file.size);
      say("hashing", "Hashing (SHA-256): " + mib(done) + " of " + mib(file.size), done, file.size);
    }
    return sha.hex();
  }

  function metadata() {
    const out = {};
    for (const name of ["source_host", "collection_tool", "notes"]) {
      const v = form.elements[name].value.trim();
      if (v) out[name] = v;
    }
    const when = form.elements.collected_at.value;
    if (when) out.collected_at = when + (when.length === 16 ? ":00" : "") + "Z"; // labelled UTC
    return out;
  }

  async function openSession(file) {
    const sha256 = await hashFile(file);
    const body = Object.assign(metadata(), { file_name: file.name, size: file.size, sha256: sha256 });
    if (file.type) body.media_type = file.type;
    const r = await api("POST", "/v1/cases/" + encodeURIComponent(caseId) + "/uploads", body);
    if (r.status !== 201) throw new UploadFailed("Could not start the upload: " + detail(r));
    const session = { upload_id: r.doc.upload_id, sha256: sha256 };
    localStorage.setItem(keyFor(file), JSON.stringify(session));
    return { session: session, offset: r.doc.offset };
  }

  /* The session saved for this file, if the vault still has it open; its offset. */
  async function resume(file) {
    const session = saved(file);
    if (!session) return null;
    const r = await api("GET", "/v1/uploads/" + encodeURIComponent(session.upload_id));
    if (r.status === 200 && (r.doc.state === "open" || r.doc.state === "completed")) {
      return { session: session, offset: r.doc.offset, state: r.doc.state };
    }
    localStorage.removeItem(keyFor(file)); // expired, failed or gone: start afresh
    return null;
  }

  /* One PATCH; XHR rather than fetch, for progress within the part. */
  function sendPart(uploadId, file, offset) {
    const end = Math.min(offset + chunkBytes, file.size);
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open("PATCH", "/v1/uploads/" + encodeURIComponent(uploadId));
      xhr.setRequestHeader("Upload-Offset", String(offset));
      xhr.setRequestHeader("Content-Type", "application/offset+octet-stream");
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.responseType = "json";
      xhr.upload.onprogress = function (e) {
        const at = offset + e.loaded;
        say("uploading", "Uploading: " + mib(at) + " of " + mib(file.size) + " (" +
          Math.floor((100 * at) / file.size) + "%)", at, file.size);
      };
      xhr.onload = function () {
        resolve({ status: xhr.status, doc: xhr.response });
      };
      xhr.onerror = function () {
        reject(new Error("the connection to the vault dropped"));
      };
      xhr.send(file.slice(offset, end));
    });
  }

  async function sendRest(uploadId, file, offset) {
    let failures = 0;
    while (offset < file.size) {
      let r;
      try {
        r = await sendPart(uploadId, file, offset);
      } catch (e) {
        r = null;
      }
      if (r && r.status === 200) {
        offset = r.doc.offset;
        failures = 0;
        continue;
      }
      if (r && r.status === 409 && r.doc && r.doc.error === "offset_mismatch") {
        offset = r.doc.offset; // the vault has more (or less) than we thought: its count wins
        continue;
      }
      if (r && r.status < 500 && r.status !== 408 && r.status !== 429) {
        throw new UploadFailed("The vault refused the bytes at " + offset + ": " + detail(r));
      }
      if (++failures > RETRIES) {
        throw new UploadFailed("Interrupted at " + mib(offset) + " of " + mib(file.size) +
          ". Choose the same file again to resume from there.");
      }
      await new Promise((ok) => setTimeout(ok, 500 * 2 ** failures));
      const now = await api("GET", "/v1/uploads/" + encodeURIComponent(uploadId)).catch(() => null);
      if (now && now.status === 200) offset = now.doc.offset;
    }
  }

  function offerReceipt(file, done) {
    const art = done.artifact;
    const link = document.getElementById("up-artifact");
    link.href = "/artifacts/" + encodeURIComponent(art.id);
    link.textContent = art.id;
    document.getElementById("up-sha").textContent = art.sha256;
    const blob = new Blob([JSON.stringify(done.receipt, null, 2) + "\n"], { type: "application/json" });
    const receipt = document.getElementById("up-receipt");
    receipt.href = URL.createObjectURL(blob);
    receipt.download = file.name + ".receipt.json"; // the name `locard upload` gives it
    result.hidden = false;
    say("done", "Stored and sealed: " + file.name + " (" + mib(file.size) + "), ledger entry " +
      done.receipt.leaf_index + ".", file.size, file.size);
  }

  async function upload(file) {
    if (file.size === 0) throw new UploadFailed("The file is empty: there is nothing to keep.");
    if (file.size > maxBytes) throw new UploadFailed("The file is larger than this vault accepts.");
    result.hidden = true;
    let open = await resume(file);
    if (open) {
      say("resuming", "Resuming: the vault already holds " + mib(open.offset) + " of " + mib(file.size) + ".",
        open.offset, file.size);
      form.dataset.resumedAt = String(open.offset);
    } else {
      open = await openSession(file);
    }
    const id = open.session.upload_id;
    if (open.state !== "completed") await sendRest(id, file, open.offset);
    say("sealing", "Storing, re-hashing and sealing in the ledger…", file.size, file.size);
    const r = await api("POST", "/v1/uploads/" + encodeURIComponent(id) + "/complete");
    if (r.status !== 201 && r.status !== 200) {
      if (r.status !== 409) localStorage.removeItem(keyFor(file));
      throw new UploadFailed("The vault did not accept the upload: " + detail(r));
    }
    localStorage.removeItem(keyFor(file));
    offerReceipt(file, r.doc);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const file = input.files && input.files[0];
    if (!file) return;
    button.disabled = true;
    upload(file)
      .catch(function (e) {
        say("failed", e instanceof UploadFailed ? e.message : "Upload stopped: " + e.message);
      })
      .finally(function () {
        button.disabled = false;
        listResumable();
      });
  });
  listResumable();
})();
