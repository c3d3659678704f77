// posekit serve: the web page's script (plain JS, no build step, no external resources).
//
// Two coordinate frames: IMAGE pixels (the API's keypoints and boxes; x right, y down, origin at the top-left
// pixel's corner) and CSS pixels (where the canvas is shown on screen). The canvas's own width x height equal the
// image's, so drawing happens in image pixels; CSS may shrink the canvas (phones), so pointer positions are
// converted with toImage() before looking up a keypoint, and back with toCss() to place the tooltip.
"use strict";

const KPT_THR = 0.3; // keypoints below this score are not drawn or counted (the server render's default kpt_thr)
const POLL_MS = 500; // video job polling period (video.js)
const KEY_STORE = "posekit.apiKey";
const VIDEO_EXT = /\.(mp4|m4v|mov|webm|avi|mkv)$/i;

const $ = (id) => document.getElementById(id);
const ui = {
  drop: $("drop"), file: $("file"), model: $("model"), detector: $("detector"), skeleton: $("skeleton"),
  minScore: $("min-score"),
  keyForm: $("key-form"), key: $("api-key"), status: $("status"), error: $("error"),
  imageResult: $("image-result"), canvas: $("canvas"), tooltip: $("tooltip"),
  rows: document.querySelector("#people tbody"), timing: $("timing"),
  dlJson: $("download-json"), dlImage: $("download-image"),
  videoResult: $("video-result"), progress: $("video-progress"), frames: $("video-frames"), cancel: $("video-cancel"),
  links: $("video-links"), video: $("video"),
};
const state = {
  key: sessionStorage.getItem(KEY_STORE) || "", serving: "", models: new Map(), retry: null, seq: 0,
  file: null, result: null, resultText: "", job: null, pollTimer: 0, objectUrls: [],
};

// ---- HTTP helpers ----

/** fetch() with the API key header; a network failure becomes an Error with a readable message. */
async function api(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.key) headers.set("X-API-Key", state.key);
  try {
    return await fetch(url, { ...options, headers });
  } catch (err) {
    throw new Error(`Network error: the server at ${location.host} did not answer (${err.message}).`);
  }
}

/** The server's error.message of a failed response (JSON {"error": {"code", "message"}}), else the status. */
async function errorText(resp) {
  const text = await resp.text();
  try {
    const e = JSON.parse(text).error;
    if (e && e.message) return `${e.message} (${e.code}, HTTP ${resp.status})`;
  } catch (_) { /* not JSON */ }
  return `HTTP ${resp.status} ${resp.statusText}: ${text.slice(0, 200)}`;
}

/** The query string of the current options (model only when it is not the server's default; skeleton and
 * min_score only for images). */
function query(extra = {}, image = true) {
  const q = new URLSearchParams(extra);
  if (ui.model.value && ui.model.value !== state.serving) q.set("model", ui.model.value);
  if (ui.detector.value && !ui.detector.disabled) q.set("detector", ui.detector.value);
  if (!image) return `?${q}`;
  if (ui.skeleton.value) q.set("skeleton", ui.skeleton.value);
  const min = ui.minScore.value.trim();
  if (min !== "" && Number(min) !== 0) q.set("min_score", min);
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** A multipart body with the file under `field`. */
function form(field, file) {
  const body = new FormData();
  body.append(field, file, file.name || "upload");
  return body;
}

// ---- status, errors, API key ----

function setStatus(text) { ui.status.textContent = text; }

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

/** A 401: show the key field; `retry` runs again once a key is entered. */
async function needKey(resp, retry) {
  showError(await errorText(resp));
  state.retry = retry;
  ui.keyForm.hidden = false;
  ui.key.focus();
  setStatus("This server needs an API key.");
}

ui.keyForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  state.key = ui.key.value.trim();
  sessionStorage.setItem(KEY_STORE, state.key); // this tab only; gone when it closes
  ui.keyForm.hidden = true;
  clearError();
  const retry = state.retry || loadModels;
  state.retry = null;
  retry();
});

// ---- models ----

/** Fill the model picker from GET /v1/models, selecting the one the server runs. */
async function loadModels() {
  let resp;
  try {
    resp = await api("/v1/models");
  } catch (err) { showError(err.message); setStatus(""); return; }
  if (resp.status === 401) return needKey(resp, loadModels);
  if (!resp.ok) { showError(await errorText(resp)); return; }
  const body = await resp.json();
  state.serving = body.serving;
  state.models = new Map(body.models.map((m) => [m.name, m]));
  ui.model.replaceChildren();
  for (const m of body.models) {
    const opt = new Option(`${m.name}${m.loaded ? " (loaded)" : ""}`, m.name, false, m.name === body.serving);
    opt.title = `${m.skeleton || "?"}, ${m.num_keypoints} keypoints: ${m.description}`;
    ui.model.add(opt);
  }
  if (!state.models.has(body.serving)) ui.model.add(new Option(body.serving, body.serving, true, true));
  for (const d of body.detectors || []) ui.detector.add(new Option(d, d));
  syncDetector();
  setStatus(`Ready: the server runs ${body.serving}${body.loaded ? "" : " (still loading)"}. Choose or drop a file.`);
}

// ---- images ----

/** POST an image to /v1/poses, then draw it and fill the table. Older answers are ignored (seq). */
async function runImage(file) {
  const seq = ++state.seq;
  try {
    await estimate(file, seq);
  } finally {
    if (seq === state.seq) answered();
  }
}

/** Count finished image requests on <body data-answers> (a hook for tests: success or error, the page is done). */
function answered() {
  document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
}

/** runImage's work: request, then draw and fill the table, or show the error. */
async function estimate(file, seq) {
  state.file = file;
  stopVideo();
  setStatus(`Estimating poses in ${file.name}…`);
  let resp, text;
  try {
    resp = await api(`/v1/poses${query()}`, { method: "POST", body: form("image", file) });
    text = resp.ok ? await resp.text() : "";
  } catch (err) {
    if (seq === state.seq) { clearResult(); showError(err.message); setStatus(""); }
    return;
  }
  if (seq !== state.seq) return;
  if (resp.status === 401) { clearResult(); return needKey(resp, () => runImage(file)); }
  if (!resp.ok) { clearResult(); showError(await errorText(resp)); setStatus(`${file.name}: failed.`); return; }
  const result = JSON.parse(text);
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // EXIF orientation applied, as the server does
  } catch (err) {
    clearResult(); showError(`The browser cannot show ${file.name}: ${err.message}`); return;
  }
  if (seq !== state.seq) return;
  state.result = result;
  state.resultText = text;
  clearError();
  ui.videoResult.hidden = true;
  ui.imageResult.hidden = false;
  draw(bitmap, result);
  fillTable(result);
  ui.dlJson.disabled = ui.dlImage.disabled = false;
  const n = result.poses.length;
  const by = result.detector ? `${result.model} on ${result.detector} boxes` : result.model;
  setStatus(`${file.name}: ${n} ${n === 1 ? "person" : "people"} found by ${by}.`);
  const t = result.timing_ms;
  ui.timing.textContent = `${result.image.width} × ${result.image.height} px; decode ${t.decode.toFixed(1)} ms, ` +
    `model ${t.inference.toFixed(1)} ms, total ${t.total.toFixed(1)} ms; posekit ${result.posekit_version}`;
}

/** Empty the table and hide the image result (after an error). */
function clearResult() {
  state.result = null;
  state.resultText = "";
  ui.rows.replaceChildren();
  ui.imageResult.hidden = true;
  ui.tooltip.hidden = true;
  ui.dlJson.disabled = ui.dlImage.disabled = true;
}

/** Is keypoint k of pose p drawn (present and scored at least KPT_THR)? */
function shown(p, k) { return p.keypoints[k] !== null && p.scores[k] >= KPT_THR; }

/** Draw the image and the skeletons on the canvas, in image pixels. */
function draw(bitmap, result) {
  const { width: w, height: h } = result.image;
  const c = ui.canvas;
  c.width = w;
  c.height = h;
  const ctx = c.getContext("2d");
  ctx.drawImage(bitmap, 0, 0, w, h);
  const sk = result.skeleton; // links and colours come with the answer: any skeleton draws like the server's
  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
  const lw = Math.max(2, Math.round(Math.max(w, h) / 250));
  const linkScale = (j) => (sk.link_scales ? sk.link_scales[j] : 1); // faces thinnest, hands thinner than the body
  const dotScale = (k) => (sk.keypoint_scales ? sk.keypoint_scales[k] : 1);
  ctx.lineCap = "round";
  for (const p of result.poses) {
    sk.links.forEach(([a, b], j) => {
      if (!shown(p, a) || !shown(p, b)) return;
      ctx.lineWidth = Math.max(1, lw * linkScale(j));
      ctx.strokeStyle = rgb(sk.link_colors[j]);
      ctx.beginPath();
      ctx.moveTo(...p.keypoints[a]);
      ctx.lineTo(...p.keypoints[b]);
      ctx.stroke();
    });
  }
  ctx.lineWidth = 1;
  ctx.strokeStyle = "rgba(0,0,0,0.6)";
  result.poses.forEach((p, i) => {
    p.keypoints.forEach((xy, k) => {
      if (!shown(p, k)) return;
      ctx.fillStyle = rgb(sk.keypoint_colors[k]);
      ctx.beginPath();
      ctx.arc(xy[0], xy[1], Math.max(1, (lw + 1.5) * dotScale(k)), 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    });
    label(ctx, String(i + 1), p.box, w, h, lw);
  });
}

/** The person number in a dark tag at the top-left of its box (clamped inside the image). */
function label(ctx, text, box, w, h, lw) {
  if (!box.every(Number.isFinite)) return;
  const size = 6 * lw;
  ctx.font = `bold ${size}px system-ui, sans-serif`;
  const tw = ctx.measureText(text).width + size * 0.6;
  const x = Math.min(Math.max(box[0], 0), w - tw);
  const y = Math.min(Math.max(box[1], 0), h - size * 1.3);
  ctx.fillStyle = "rgba(20,24,28,0.8)";
  ctx.fillRect(x, y, tw, size * 1.3);
  ctx.fillStyle = "#fff";
  ctx.textBaseline = "top";
  ctx.fillText(text, x + size * 0.3, y + size * 0.15);
}

/** One table row per person: #, score, box, visible keypoints. */
function fillTable(result) {
  const rows = result.poses.map((p, i) => {
    const tr = document.createElement("tr");
    const visible = p.scores.filter((_, k) => shown(p, k)).length;
    const cells = [String(i + 1), p.score.toFixed(3), p.box.map((v) => Math.round(v)).join(", "),
      `${visible} / ${p.scores.length}`];
    for (const text of cells) tr.insertCell().textContent = text;
    return tr;
  });
  ui.rows.replaceChildren(...rows);
}

/** CSS pixels (relative to the canvas box) -> image pixels, and back. */
function scale() {
  const r = ui.canvas.getBoundingClientRect();
  return { r, sx: ui.canvas.width / r.width, sy: ui.canvas.height / r.height };
}

/** Tooltip for the keypoint nearest the pointer (within 12 CSS px). */
function onHover(ev) {
  const res = state.result;
  if (!res) return;
  const { r, sx, sy } = scale();
  const x = (ev.clientX - r.left) * sx; // image pixels
  const y = (ev.clientY - r.top) * sy;
  let best = null;
  let bestD = 12 * 12;
  res.poses.forEach((p, i) => p.keypoints.forEach((xy, k) => {
    if (!shown(p, k)) return;
    const d = ((xy[0] - x) / sx) ** 2 + ((xy[1] - y) / sy) ** 2; // squared CSS pixels
    if (d < bestD) { bestD = d; best = { i, k, xy, score: p.scores[k] }; }
  }));
  if (!best) { ui.tooltip.hidden = true; return; }
  const name = res.skeleton.keypoints[best.k];
  ui.tooltip.textContent = `Person ${best.i + 1} · ${name} · score ${best.score.toFixed(2)}`;
  ui.tooltip.hidden = false;
  // Centred above the point (CSS pixels within .canvas-wrap), kept inside the canvas's width: no page scroll.
  const tw = ui.tooltip.offsetWidth;
  const th = ui.tooltip.offsetHeight;
  const cx = best.xy[0] / sx;
  const cy = best.xy[1] / sy;
  ui.tooltip.style.left = `${Math.max(0, Math.min(cx - tw / 2, r.width - tw))}px`;
  ui.tooltip.style.top = `${cy - th - 10 >= 0 ? cy - th - 10 : cy + 12}px`;
}

ui.canvas.addEventListener("mousemove", onHover);
ui.canvas.addEventListener("mouseleave", () => { ui.tooltip.hidden = true; });

// ---- downloads ----

/** Save a Blob under `name` (a temporary link). */
function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const stem = () => (state.file ? state.file.name.replace(/\.[^.]*$/, "") : "image");

ui.dlJson.addEventListener("click", () => {
  if (state.resultText) save(new Blob([state.resultText], { type: "application/json" }), `${stem()}_poses.json`);
});

/** The server's rendering (POST /v1/poses:render with the same options), downloaded as PNG. */
ui.dlImage.addEventListener("click", async () => {
  if (!state.file) return;
  setStatus("Rendering on the server…");
  try {
    const url = `/v1/poses:render${query({ kpt_thr: KPT_THR })}`;
    const resp = await api(url, { method: "POST", body: form("image", state.file) });
    if (resp.status === 401) return needKey(resp, () => ui.dlImage.click());
    if (!resp.ok) { showError(await errorText(resp)); return; }
    save(await resp.blob(), `${stem()}_poses.png`);
    clearError();
    setStatus("Rendered image downloaded.");
  } catch (err) { showError(err.message); }
});

// ---- file input, drag and drop, keyboard ----

/** Route a chosen or dropped file to the image or the video path. */
function handle(file) {
  if (!file) return;
  const video = file.type.startsWith("video/") || (!file.type.startsWith("image/") && VIDEO_EXT.test(file.name));
  (video ? runVideo : runImage)(file);
}

ui.file.addEventListener("change", () => {
  const file = ui.file.files[0];
  ui.file.value = ""; // choosing the same file again fires change again
  handle(file);
});
ui.drop.addEventListener("click", () => ui.file.click());
ui.drop.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); ui.file.click(); }
});
ui.drop.addEventListener("dragover", (ev) => { ev.preventDefault(); ui.drop.classList.add("over"); });
ui.drop.addEventListener("dragleave", () => ui.drop.classList.remove("over"));
ui.drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  ui.drop.classList.remove("over");
  handle(ev.dataTransfer.files[0]);
});
// A file dropped outside the zone must not replace the page.
window.addEventListener("dragover", (ev) => ev.preventDefault());
window.addEventListener("drop", (ev) => ev.preventDefault());

/** The detector picker applies only to models that run on person boxes. */
function syncDetector() {
  const m = state.models.get(ui.model.value);
  ui.detector.disabled = !(m && m.detector) || ui.detector.options.length < 2;
}

ui.model.addEventListener("change", syncDetector);
// Changing an option runs the current image again.
for (const control of [ui.model, ui.detector, ui.skeleton, ui.minScore]) {
  control.addEventListener("change", () => { if (state.result && state.file) runImage(state.file); });
}

loadModels();
