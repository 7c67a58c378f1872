// swarmgen dashboard: the key box, the playground, the job list, live figures and the
// in-browser Merkle check. Plain script, no dependency, no build step. Everything that
// came from the network is put on the page with textContent, never as markup.
"use strict";

const KEY = "swarmgen.apiKey";
const FINAL = new Set(["completed", "failed", "cancelled", "expired"]);
const SETTLED = new Set(["unchecked", "upheld", "rejected", "abandoned", "none"]);

let currentRun = 0; // a newer run in the playground stops following an older one

function apiKey() { return localStorage.getItem(KEY) || ""; }

function $(selector) { return document.querySelector(selector); }

function setText(selector, text, cls) {
  const el = $(selector);
  if (!el) return;
  el.textContent = text === null || text === undefined ? "–" : String(text);
  if (cls !== undefined) el.className = cls;
}

function credits(micro) {
  const sign = micro < 0 ? "-" : "";
  const abs = Math.abs(micro);
  return `${sign}${Math.floor(abs / 1e6)}.${String(abs % 1e6).padStart(6, "0")}`;
}

async function api(url, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${apiKey()}` }, options.headers || {});
  const response = await fetch(url, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      const error = body.error || {};
      message = `${response.status}: ${error.message || message}`;
      if (Array.isArray(error.problems)) {
        message += " (" + error.problems.map((p) => `${p.field}: ${p.reason}`).join("; ") + ")";
      }
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// --- the key box -------------------------------------------------------------------
function showKey() {
  const key = apiKey();
  const anonymous = document.body.dataset.anonymousKey;
  let text = "no key";
  if (key && key === anonymous) text = "anonymous";
  else if (key) text = `key …${key.slice(-4)}`;
  setText("#key-state", text);
}

function keyBox() {
  const form = $("#key-form");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("#api-key").value.trim();
    if (value) localStorage.setItem(KEY, value);
    $("#api-key").value = "";
    showKey();
    document.dispatchEvent(new Event("swarmgen:key"));
  });
  const anonymous = $("#key-anonymous");
  if (anonymous) anonymous.addEventListener("click", () => {
    localStorage.setItem(KEY, document.body.dataset.anonymousKey);
    showKey();
    document.dispatchEvent(new Event("swarmgen:key"));
  });
  $("#key-forget").addEventListener("click", () => {
    localStorage.removeItem(KEY);
    showKey();
    document.dispatchEvent(new Event("swarmgen:key"));
  });
  showKey();
}

// --- the overview's live figures ---------------------------------------------------
function liveStats() {
  const box = $("#stats");
  if (!box) return;
  setInterval(async () => {
    try {
      const stats = await (await fetch(box.dataset.statsUrl)).json();
      for (const el of box.querySelectorAll("[data-stat]")) {
        if (el.dataset.stat in stats) el.textContent = String(stats[el.dataset.stat]);
      }
      $("#throughput").src = `/charts/throughput.svg?t=${Date.now()}`;
    } catch (_) { /* the next tick tries again */ }
  }, 10000);
}

// --- the playground ------------------------------------------------------------------
function playgroundKind(form) {
  const option = form.querySelector("#pg-model").selectedOptions[0];
  form.dataset.kind = option ? option.dataset.kind : "image";
}

function jobBody(form) {
  const data = new FormData(form);
  const kind = form.dataset.kind;
  const body = { kind, model: data.get("model"), prompt: data.get("prompt") };
  if (kind === "image") {
    const side = Number(data.get("size"));
    Object.assign(body, { width: side, height: side, steps: Number(data.get("steps")) });
  } else {
    Object.assign(body, {
      max_tokens: Number(data.get("max_tokens")),
      temperature: Number(data.get("temperature")),
    });
  }
  if (data.get("seed") !== "") body.seed = Number(data.get("seed"));
  return body;
}

function showJob(view) {
  setText("#pg-job", view.id);
  setText("#pg-state", view.state, `state-${view.state}`);
  setText("#pg-price", `${credits(view.price)} credits`);
  setText("#pg-seconds", view.seconds);
  const worker = $("#pg-worker");
  worker.textContent = "";
  if (view.worker_id) {
    const link = document.createElement("a");
    link.href = `/workers/${encodeURIComponent(view.worker_id)}`;
    link.textContent = view.worker_id;
    worker.appendChild(link);
  } else {
    worker.textContent = "–";
  }
  if (view.error) { setText("#pg-error", view.error); $("#pg-error").hidden = false; }
}

async function showOutput(view) {
  const out = $("#pg-output");
  out.textContent = "";
  if (!view.result_url) return;
  const response = await api(view.result_url);
  if (view.kind === "image") {
    const img = document.createElement("img");
    img.id = "pg-image";
    img.alt = "the generated image";
    img.src = URL.createObjectURL(await response.blob());
    out.appendChild(img);
  } else {
    const pre = document.createElement("pre");
    pre.id = "pg-text";
    pre.textContent = await response.text();
    out.appendChild(pre);
  }
}

async function followVerification(jobId, run) {
  for (let tries = 0; tries < 720 && run === currentRun; tries++) {
    const found = await (await api(`/playground/provenance/${encodeURIComponent(jobId)}`)).json();
    if (run !== currentRun) return;
    setText("#pg-verification", found.verification, `state-${found.verification}`);
    setText("#pg-receipt", found.receipt_digest);
    setText("#pg-receipt-json", found.receipt ? JSON.stringify(found.receipt, null, 2) : "–");
    if (SETTLED.has(found.verification)) return;
    await sleep(5000);
  }
}

async function followJob(form, jobId) {
  const run = ++currentRun;
  $("#pg-result").hidden = false;
  $("#pg-error").hidden = true;
  $("#pg-output").textContent = "";
  setText("#pg-verification", "–", "");
  setText("#pg-receipt", "–");
  const url = `${form.dataset.jobsUrl}/${encodeURIComponent(jobId)}`;
  let view;
  do {
    view = await (await api(`${url}?wait=10`)).json();
    if (run !== currentRun) return;
    showJob(view);
  } while (!FINAL.has(view.state));
  await showOutput(view);
  await followVerification(jobId, run);
}

function fail(error) {
  $("#pg-result").hidden = false;
  setText("#pg-error", error.message);
  $("#pg-error").hidden = false;
}

function playground() {
  const form = $("#playground");
  if (!form) return;
  const wanted = new URLSearchParams(location.search).get("model");
  if (wanted) form.querySelector("#pg-model").value = wanted;
  playgroundKind(form);
  form.querySelector("#pg-model").addEventListener("change", () => playgroundKind(form));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!apiKey()) { fail(new Error("enter an API key above (or use the anonymous key)")); return; }
    const button = $("#pg-run");
    button.disabled = true;
    try {
      const response = await api(form.dataset.jobsUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(jobBody(form)),
      });
      const accepted = await response.json();
      showJob(Object.assign({ worker_id: null, seconds: null }, accepted));
      button.disabled = false;
      await followJob(form, accepted.id);
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
  if (form.dataset.job && apiKey()) followJob(form, form.dataset.job).catch(fail);
}

// --- my jobs ---------------------------------------------------------------------------
function cell(row, text, href) {
  const td = row.insertCell();
  if (href) {
    const link = document.createElement("a");
    link.href = href;
    link.textContent = text;
    td.appendChild(link);
  } else {
    td.textContent = text === null || text === undefined ? "–" : String(text);
  }
  return td;
}

async function jobList() {
  const table = $("#jobs");
  if (!table) return;
  const note = $("#jobs-note");
  if (!apiKey()) { table.hidden = true; note.hidden = false; return; }
  try {
    const found = await (await api(`${table.dataset.jobsUrl}?limit=100`)).json();
    const body = table.tBodies[0];
    body.textContent = "";
    for (const job of found.jobs) {
      const row = body.insertRow();
      cell(row, job.id.slice(0, 12), `/playground?job=${encodeURIComponent(job.id)}`);
      cell(row, job.model);
      cell(row, job.state).className = `state-${job.state}`;
      cell(row, credits(job.price)).className = "num";
      if (job.worker_id) cell(row, job.worker_id.slice(0, 12), `/workers/${encodeURIComponent(job.worker_id)}`);
      else cell(row, null);
      cell(row, job.seconds).className = "num";
      cell(row, new Date(job.created_ms).toISOString().replace("T", " ").slice(0, 19));
    }
    note.textContent = found.jobs.length ? "Newest first." : "No jobs yet: try the playground.";
    table.hidden = false;
  } catch (error) {
    table.hidden = true;
    note.textContent = error.message;
  }
}

// --- inclusion proofs, checked again in the browser -------------------------------------
function hex(bytes) { return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join(""); }
function unhex(text) { return Uint8Array.from(text.match(/../g) || [], (h) => parseInt(h, 16)); }

async function sha256(...parts) {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) { all.set(part, at); at += part.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all));
}

async function merklePath(leaf, path) {
  let node = await sha256(Uint8Array.of(0), unhex(leaf));
  for (const [sibling, left] of path.steps) {
    const other = unhex(sibling);
    node = left ? await sha256(Uint8Array.of(1), other, node) : await sha256(Uint8Array.of(1), node, other);
  }
  return hex(node);
}

async function proofs() {
  if (!window.crypto || !crypto.subtle) return;
  for (const section of document.querySelectorAll("section.proof")) {
    const out = section.querySelector(".browser-check");
    try {
      const root = await merklePath(section.dataset.leaf, JSON.parse(section.dataset.path));
      const ok = root === section.dataset.root;
      out.textContent = ok ? "the path leads to the root" : "the path does NOT lead to the root";
      out.className = `browser-check ${ok ? "ok" : "error"}`;
    } catch (error) {
      out.textContent = `could not check: ${error.message}`;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  keyBox();
  liveStats();
  playground();
  jobList();
  document.addEventListener("swarmgen:key", jobList);
  proofs();
});
