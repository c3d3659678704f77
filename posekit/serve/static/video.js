// posekit serve: the web page's video jobs (loaded after app.js, whose helpers and `ui` / `state` it uses).
// POST /v1/videos?format=webm, poll GET /v1/jobs/{id} every POLL_MS, DELETE to cancel; when done, links to the
// job's files and a <video> playing the annotated WebM.
"use strict";

const FINAL = new Set(["done", "failed", "cancelled"]); // any other status (receiving, queued, running) is polled

/** POST a video to /v1/videos and poll its job. */
async function runVideo(file) {
  const seq = ++state.seq;
  stopVideo();
  clearResult();
  state.file = file;
  setStatus(`Uploading ${file.name}…`);
  let resp;
  try {
    resp = await api(`/v1/videos${query({ format: "webm" }, false)}`, { method: "POST", body: form("video", file) });
  } catch (err) { showError(err.message); setStatus(""); return; }
  if (seq !== state.seq) return;
  if (resp.status === 401) return needKey(resp, () => runVideo(file));
  if (resp.status === 404 || resp.status === 405) {
    showError("This server does not process videos (no POST /v1/videos).");
    return;
  }
  if (!resp.ok) { showError(await errorText(resp)); setStatus(""); return; }
  clearError();
  state.job = await resp.json();
  ui.links.replaceChildren();
  ui.video.hidden = true;
  ui.cancel.disabled = false;
  ui.videoResult.hidden = false;
  showJob(state.job);
  state.pollTimer = setTimeout(poll, POLL_MS);
}

/** GET the job every POLL_MS until it is done, failed or cancelled. */
async function poll() {
  const job = state.job;
  if (!job) return;
  let resp;
  try {
    resp = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
  } catch (err) { showError(err.message); state.pollTimer = setTimeout(poll, 4 * POLL_MS); return; }
  if (state.job !== job) return;
  if (resp.status === 401) return needKey(resp, poll);
  if (!resp.ok) { showError(await errorText(resp)); ui.cancel.disabled = true; state.job = null; return; }
  const now = await resp.json();
  showJob(now);
  if (!FINAL.has(now.status)) state.pollTimer = setTimeout(poll, POLL_MS);
  else state.job = null;
}

/** Progress bar, frame count and, when done, the result links and the video. */
function showJob(job) {
  const pr = job.progress || {};
  if (pr.fraction != null) ui.progress.value = pr.fraction;
  else if (job.status === "done") ui.progress.value = 1;
  else ui.progress.removeAttribute("value"); // indeterminate
  const of = pr.total != null ? ` / ${pr.total}` : "";
  ui.frames.textContent = `${job.status}: ${pr.frames || 0}${of} frames`;
  setStatus(`Video job ${job.id}: ${job.status}.${job.warning ? ` Warning: ${job.warning}` : ""}`);
  if (job.status === "failed") showError(job.error ? job.error.message : "The video job failed.");
  if (FINAL.has(job.status)) ui.cancel.disabled = true;
  if (job.status === "done" && job.files) showFiles(job.files);
}

/** Links to the job's files; with an API key they are fetched with the header and offered as Blob URLs. */
async function showFiles(files) {
  const label = { jsonl: "Poses (JSONL)", csv: "Poses (CSV)", video: "Annotated video", summary: "Summary (JSON)" };
  const items = [];
  for (const [kind, url] of Object.entries(files)) {
    const a = document.createElement("a");
    a.textContent = label[kind] || kind;
    a.href = state.key ? await blobUrl(url) : url;
    a.download = url.split("/").pop();
    const li = document.createElement("li");
    li.append(a);
    items.push(li);
  }
  ui.links.replaceChildren(...items);
  if (files.video) {
    ui.video.src = state.key ? await blobUrl(files.video) : files.video;
    ui.video.hidden = false;
  }
}

/** An object URL of a file fetched with the API key (revoked when the next job starts). */
async function blobUrl(url) {
  const resp = await api(url);
  if (!resp.ok) { showError(await errorText(resp)); return "#"; }
  const u = URL.createObjectURL(await resp.blob());
  state.objectUrls.push(u);
  return u;
}

/** Forget the current video job (polling stops; its object URLs are revoked). */
function stopVideo() {
  clearTimeout(state.pollTimer);
  state.job = null;
  state.objectUrls.forEach((u) => URL.revokeObjectURL(u));
  state.objectUrls = [];
  ui.video.removeAttribute("src");
  ui.videoResult.hidden = true;
}

ui.cancel.addEventListener("click", async () => {
  const job = state.job;
  if (!job) return;
  clearTimeout(state.pollTimer);
  state.job = null;
  ui.cancel.disabled = true;
  try {
    const resp = await api(`/v1/jobs/${encodeURIComponent(job.id)}`, { method: "DELETE" });
    if (!resp.ok) { showError(await errorText(resp)); return; }
    const body = await resp.json();
    ui.frames.textContent = `${body.status}`;
    setStatus(`Video job ${job.id}: ${body.status}.`);
  } catch (err) { showError(err.message); }
});
