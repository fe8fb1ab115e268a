// The admin library page: video grid with thumbnails, filter by directory type, search by
// file name, bulk lock/unlock of the selection's public items, and jobs enqueued for the
// selection, shown as they run.
import { adminSession } from "./api.js";
import { $, el, clear } from "./dom.js";

const POLL_MS = 1000;
const FINISHED = ["completed", "failed", "cancelled"];
let videos = [];
const selected = new Set();
const tracked = new Map(); // job id -> {job, label}
let poller = null;

const session = adminSession(() => load());
const call = session.call;

function notice(text, isError = false) {
  $("notice").textContent = text;
  $("notice").className = isError ? "error" : "muted";
}

async function thumbnail(video, img) {
  if (!video.hasThumbnail) return;
  const response = await fetch(`/api/admin/videos/${video.id}/thumbnail`, {
    headers: { Authorization: "Bearer " + session.token() },
  });
  if (response.ok) img.src = URL.createObjectURL(await response.blob());
}

async function load() {
  try {
    const page = await call("/api/admin/library", {
      query: { directoryType: $("f-dir").value, search: $("f-search").value.trim(), limit: 48 },
    });
    videos = page.videos;
    $("total").textContent = `${page.total} videos`;
    draw();
  } catch (error) {
    notice(error.message, true);
  }
}

function draw() {
  const grid = clear($("grid"));
  for (const video of videos) {
    const img = el("img", { alt: "", loading: "lazy" });
    thumbnail(video, img);
    const box = el("input", {
      type: "checkbox",
      checked: selected.has(video.id),
      "aria-label": `select ${video.filename}`,
    });
    const item = el(
      "li",
      { "data-video": video.id, class: selected.has(video.id) ? "selected" : "" },
      img,
      el("label", {}, box, " ", el("span", { class: "name" }, video.filename)),
      el("div", { class: "muted" }, video.directoryType || "", video.publicMedia.length
        ? ` · public${video.publicMedia.some((m) => m.isLocked) ? " (locked)" : ""}`
        : ""),
    );
    box.addEventListener("change", () => {
      if (box.checked) selected.add(video.id);
      else selected.delete(video.id);
      item.className = box.checked ? "selected" : "";
      drawSelection();
    });
    grid.append(item);
  }
  drawSelection();
}

function drawSelection() {
  $("selected").textContent = selected.size ? `${selected.size} selected` : "none selected";
  for (const id of ["enqueue", "lock", "unlock"]) $(id).disabled = !selected.size;
}

async function enqueue() {
  const type = $("job-type").value;
  const ids = [...selected];
  try {
    const result = await call("/api/jobs", {
      method: "POST",
      body: { jobs: ids.map((videoId) => ({ type, params: { videoId } })) },
    });
    result.jobIds.forEach((jobId, i) => {
      const video = videos.find((v) => v.id === ids[i]);
      tracked.set(jobId, { label: `${type} · ${video ? video.filename : ids[i]}`, job: null });
    });
    notice(`${result.count} ${type} jobs enqueued`);
    drawTracked();
    poll();
  } catch (error) {
    notice(error.message, true);
  }
}

async function poll() {
  clearTimeout(poller);
  const open = [...tracked.entries()].filter(([, t]) => !t.job || !FINISHED.includes(t.job.status));
  await Promise.all(
    open.map(async ([jobId, t]) => {
      try {
        t.job = await call(`/api/jobs/${jobId}`);
      } catch (error) {
        notice(error.message, true);
      }
    }),
  );
  drawTracked();
  if ([...tracked.values()].some((t) => !t.job || !FINISHED.includes(t.job.status))) {
    poller = setTimeout(poll, POLL_MS);
  }
}

function drawTracked() {
  const list = clear($("tracked"));
  for (const [jobId, t] of tracked) {
    const job = t.job;
    list.append(
      el(
        "li",
        { "data-job": jobId, "data-status": job ? job.status : "pending" },
        el("a", { href: `/admin/jobs#job-${jobId}` }, `#${jobId}`),
        el("span", {}, t.label),
        el("progress", { max: 100, value: job ? job.progress : 0 }),
        el("span", { class: "status" }, job ? job.status : "pending"),
        el("span", { class: "muted" }, job && job.status === "pending" ? job.waitingReason || "" : ""),
      ),
    );
  }
}

async function lock(locking) {
  const media = videos
    .filter((v) => selected.has(v.id))
    .flatMap((v) => v.publicMedia.map((m) => m.id));
  if (!media.length) {
    notice("none of the selected videos has a public item", true);
    return;
  }
  try {
    const result = await call(`/api/admin/media/${locking ? "lock" : "unlock"}`, {
      method: "POST",
      body: { ids: media, reason: $("lock-reason").value.trim() || undefined },
    });
    const changed = (locking ? result.locked : result.unlocked).length;
    notice(`${changed} public items ${locking ? "locked" : "unlocked"}`);
    load();
  } catch (error) {
    notice(error.message, true);
  }
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
$("enqueue").addEventListener("click", enqueue);
$("lock").addEventListener("click", () => lock(true));
$("unlock").addEventListener("click", () => lock(false));
session.start();
