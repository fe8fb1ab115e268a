// The admin jobs page: filters, live progress, per-row and bulk cancel/retry/delete (with a
// confirmation naming how many), pause/resume per class, and a job's detail.
import { adminSession, signInRefused } from "./api.js";
import { $, el, clear } from "./dom.js";

const REFRESH_MS = 1500;
const CLASSES = ["cpu", "gpu_encode", "gpu_ai"];
let jobs = [];
let total = 0;
let before = null; // keyset: the pages below the first
let selected = new Set();
let pending = null; // the bulk action waiting for confirmation
let detailId = null;
let timer = null;

function filters() {
  return {
    status: $("f-status").value,
    resourceCategory: $("f-class").value,
    type: $("f-type").value,
    q: $("f-text").value.trim(),
  };
}

// The bulk API's filter: the same fields, named as POST /api/jobs/bulk takes them.
function bulkFilter() {
  const f = filters();
  const out = {};
  if (f.status) out.status = f.status;
  if (f.resourceCategory) out.resourceCategory = f.resourceCategory;
  if (f.type) out.type = f.type;
  if (f.q) out.text = f.q;
  return out;
}

const session = adminSession(refresh, { onSignOut: () => clearTimeout(timer) });
const call = session.call;

function notice(text, isError = false) {
  $("notice").textContent = text;
  $("notice").className = isError ? "error" : "muted";
}

async function refresh() {
  clearTimeout(timer);
  try {
    const [list, queue] = await Promise.all([
      call("/api/jobs", { query: { ...filters(), limit: 50 } }),
      call("/api/jobs/queue"),
    ]);
    jobs = list.jobs;
    total = list.pagination.total;
    drawClasses(queue);
    drawRows(list);
    if (detailId !== null) await drawDetail(detailId);
  } catch (error) {
    if (!signInRefused(error)) notice(error.message, true);
  }
  if (!$("app").hidden) timer = setTimeout(refresh, REFRESH_MS);
}

function drawClasses(queue) {
  const list = clear($("classes"));
  for (const name of CLASSES) {
    const counts = queue.classes[name] || {};
    const pause = (queue.pauses || []).find((p) => p.resourceCategory === name && !p.type);
    const types = (queue.pauses || []).filter((p) => p.resourceCategory === name && p.type);
    const button = el(
      "button",
      { type: "button", "data-class": name, "aria-label": `${pause ? "Resume" : "Pause"} ${name}` },
      pause ? "Resume" : "Pause",
    );
    button.addEventListener("click", () => togglePause(name, Boolean(pause)));
    list.append(
      el(
        "li",
        { "data-class": name },
        el("strong", {}, name),
        ` ${counts.pending ?? 0} pending · ${counts.queued ?? 0} queued · ${counts.running ?? 0} running `,
        pause ? el("span", { class: "paused" }, `paused by ${pause.pausedBy}`) : null,
        types.length ? el("span", { class: "paused" }, ` types paused: ${types.map((t) => t.type).join(", ")}`) : null,
        " ",
        button,
      ),
    );
  }
}

async function togglePause(name, paused) {
  try {
    await call(`/api/queues/${name}/${paused ? "resume" : "pause"}`, { method: "POST", body: {} });
    notice(`${name} ${paused ? "resumed" : "paused"}`);
  } catch (error) {
    notice(error.message, true);
  }
  refresh();
}

function whereText(job) {
  if (job.status === "pending") {
    return [job.queuePosition ? `#${job.queuePosition}` : "", job.waitingReason || ""]
      .filter(Boolean)
      .join(" · ");
  }
  if (job.status === "failed") return job.lastError || "";
  return [job.assignedHost, job.assignedGpu].filter(Boolean).join(" / ");
}

function drawRows(list) {
  const body = clear($("rows"));
  const all = $("select-all").checked;
  for (const job of jobs) {
    const box = el("input", {
      type: "checkbox",
      checked: all || selected.has(job.id),
      disabled: all,
      "aria-label": `select job ${job.id}`,
    });
    box.addEventListener("change", () => {
      if (box.checked) selected.add(job.id);
      else selected.delete(job.id);
      drawSelection();
    });
    const actions = el("td", {});
    if (["pending", "queued", "running"].includes(job.status)) {
      actions.append(rowButton("Cancel", job, "cancel"));
    }
    if (["failed", "cancelled"].includes(job.status)) {
      actions.append(rowButton("Retry", job, "retry"));
    }
    const link = el("a", { href: `#job-${job.id}` }, String(job.id));
    link.addEventListener("click", (event) => {
      event.preventDefault();
      detailId = job.id;
      drawDetail(job.id);
    });
    body.append(
      el(
        "tr",
        { "data-job": job.id, "data-status": job.status },
        el("td", {}, box),
        el("td", {}, link),
        el("td", {}, job.type),
        el("td", { class: "status" }, job.status),
        el("td", {}, job.resourceCategory),
        el("td", {}, job.priority),
        el("td", {}, el("progress", { max: 100, value: job.progress }), ` ${job.progress}%`),
        el("td", { class: "reason" }, whereText(job)),
        actions,
      ),
    );
  }
  $("total").textContent = `(${list.pagination.total}${list.pagination.totalCapped ? "+" : ""})`;
  $("more").hidden = !list.pagination.hasMore || list.pagination.nextBefore === null;
  before = list.pagination.nextBefore;
  drawSelection();
}

function rowButton(label, job, action) {
  const button = el("button", { type: "button", "aria-label": `${label} job ${job.id}` }, label);
  button.addEventListener("click", async () => {
    try {
      await call(`/api/jobs/${job.id}/${action}`, { method: "POST" });
      notice(`job ${job.id}: ${action} done`);
    } catch (error) {
      notice(error.message, true);
    }
    refresh();
  });
  return button;
}

function drawSelection() {
  const count = $("select-all").checked ? total : selected.size;
  $("selected").textContent = count
    ? `${count} selected${$("select-all").checked ? " (all matching this filter)" : ""}`
    : "none selected";
  for (const id of ["bulk-cancel", "bulk-retry", "bulk-delete"]) $(id).disabled = !count;
}

function askBulk(action) {
  const all = $("select-all").checked;
  const count = all ? total : selected.size;
  pending = all ? { action, filter: bulkFilter() } : { action, ids: [...selected] };
  $("confirm-text").textContent = all
    ? `${action[0].toUpperCase()}${action.slice(1)} all ${count} jobs matching this filter? ` +
      `Only those in a state that allows it change.`
    : `${action[0].toUpperCase()}${action.slice(1)} the ${count} selected jobs?`;
  $("confirm").hidden = false;
  $("confirm-yes").focus();
}

async function runBulk() {
  $("confirm").hidden = true;
  const request = pending;
  pending = null;
  if (!request) return;
  try {
    notice(`${request.action}: working…`);
    const result = await call("/api/jobs/bulk", { method: "POST", body: request });
    notice(`${result.action}: ${result.changed} of ${result.matched} jobs changed`);
    selected = new Set();
    $("select-all").checked = false;
    $("select-page").checked = false;
  } catch (error) {
    notice(error.message, true);
  }
  refresh();
}

async function drawDetail(id) {
  const job = await call(`/api/jobs/${id}`);
  $("detail").hidden = false;
  $("detail-title").textContent = `Job ${job.id} · ${job.type} · ${job.status}`;
  const facts = clear($("detail-facts"));
  for (const [label, value] of [
    ["class", job.resourceCategory],
    ["priority", job.priority],
    ["progress", `${job.progress}%`],
    ["attempt", `${job.attempt} of at most ${job.maxAttempts}`],
    ["waiting", job.waitingReason],
    ["host / GPU", [job.assignedHost, job.assignedGpu].filter(Boolean).join(" / ")],
    ["created", job.createdAt],
    ["finished", job.completedAt],
    ["params", JSON.stringify(job.params)],
  ]) {
    if (value === null || value === undefined || value === "") continue;
    facts.append(el("dt", {}, label), el("dd", {}, value));
  }
  const attempts = clear($("detail-attempts"));
  for (const a of job.attempts || []) {
    attempts.append(
      el("tr", {}, ...[a.attempt, a.startedAt, a.endedAt, a.host, a.gpu, a.outcome, a.error].map(
        (v) => el("td", {}, v ?? ""),
      )),
    );
  }
  $("detail-result").textContent = job.result ? JSON.stringify(job.result, null, 2) : "none yet";
  const steps = clear($("detail-pipeline"));
  if (job.pipelineId) {
    const pipeline = await call(`/api/pipelines/${job.pipelineId}`);
    for (const step of pipeline.pipeline.steps) {
      steps.append(el("li", {}, `${step.type}: ${step.job ? step.job.status : "not created"}`));
    }
  } else {
    steps.append(el("li", { class: "muted" }, "not part of a pipeline"));
  }
  $("detail-log").textContent = (job.log || "").slice(-4000);
}

async function more() {
  if (before === null) return;
  const page = await call("/api/jobs", { query: { ...filters(), limit: 50, before } });
  jobs = jobs.concat(page.jobs);
  drawRows({ pagination: { ...page.pagination, total } });
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  selected = new Set();
  refresh();
});
$("select-page").addEventListener("change", () => {
  for (const job of jobs) {
    if ($("select-page").checked) selected.add(job.id);
    else selected.delete(job.id);
  }
  drawRows({ pagination: { total, hasMore: !$("more").hidden, nextBefore: before } });
});
$("select-all").addEventListener("change", () =>
  drawRows({ pagination: { total, hasMore: !$("more").hidden, nextBefore: before } }),
);
for (const id of ["bulk-cancel", "bulk-retry", "bulk-delete"]) {
  $(id).addEventListener("click", () => askBulk($(id).dataset.action));
}
$("confirm-yes").addEventListener("click", runBulk);
$("confirm-no").addEventListener("click", () => {
  $("confirm").hidden = true;
  pending = null;
});
$("more").addEventListener("click", more);
session.start();
