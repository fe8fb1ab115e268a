// The mediaq queue dashboard: polls /api/dashboard/queue with an admin token and draws it.
// Plain DOM, no build step. Sign-in is the admin pages' own (js/api.js: the token given once
// as #token=... or typed into the form, forgotten on a 401 or 403); text goes in through
// js/dom.js's el only, so nothing a job carries (type, reason, host name) can inject markup.
import { ADMIN_TOKEN_KEY, adminSession, forgetToken, signInRefused } from "./js/api.js";
import { $, el } from "./js/dom.js";

const REFRESH_MS = 2000;
const CLASSES = ["cpu", "gpu_encode", "gpu_ai"];

let timer = null;

function signedOut() {
  clearTimeout(timer);
  $("signout").hidden = true;
  $("status").textContent = "signed out";
}

const session = adminSession(refresh, { onSignOut: signedOut });

async function refresh() {
  clearTimeout(timer);
  try {
    draw(await session.call("/api/dashboard/queue"));
    $("status").textContent = "updated " + new Date().toLocaleTimeString();
    $("status").classList.remove("stale");
  } catch (error) {
    if (signInRefused(error)) return; // the form is back, with the answer's message
    $("status").textContent = "refresh failed (" + error.message + "); retrying";
    $("status").classList.add("stale");
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function draw(data) {
  $("signout").hidden = false;
  drawClasses(data.classes);
  drawHosts(data.hosts);
  drawActive(data.active);
  drawPending(data.pending);
}

function drawClasses(classes) {
  const body = $("classes").tBodies[0];
  body.replaceChildren(...CLASSES.map((name) => {
    const c = classes[name] || {};
    return el("tr", { "data-class": name },
      el("td", {}, name),
      el("td", { class: "num pending" }, c.pending || 0),
      el("td", { class: "num queued" }, c.queued || 0),
      el("td", { class: "num running" }, c.running || 0));
  }));
}

function pct(part, total) { return total > 0 ? Math.max(0, (100 * part) / total) : 0; }

function gpuBar(gpu) {
  const total = gpu.totalMib || 0;
  const reserved = gpu.reservedMib || 0;
  const foreign = gpu.foreignMib || 0;
  // What admission may still promise (after the safety margin); older APIs lack it.
  const available = gpu.availableMib ?? Math.max(0, total - reserved - foreign);
  const title = `${gpu.name} ${gpu.uuid}`;
  return el("div", { class: "gpu", "data-gpu": gpu.uuid },
    el("div", { class: "gpu-label", title },
      `GPU ${gpu.index} · ${gpu.name} · ${gpu.uuid}` + (gpu.healthy === false ? " · LOST" : "")),
    el("div", { class: "gpu-bar", role: "img",
      "aria-label": `reserved ${reserved} MiB, foreign ${foreign} MiB, available ${available} MiB of ${total} MiB` },
      el("div", { class: "seg-reserved", style: `width:${pct(reserved, total)}%` }),
      el("div", { class: "seg-foreign", style: `width:${pct(foreign, total)}%` }),
      el("div", { class: "seg-free", style: `width:${pct(available, total)}%` })),
    el("div", { class: "gpu-numbers" },
      `reserved ${reserved} MiB (${gpu.reservedJobs || 0} jobs) · foreign ${foreign} MiB · ` +
      `available ${available} MiB · NVML free ${gpu.freeMib} MiB · total ${total} MiB · ` +
      `encoder sessions ${gpu.encoderSessions || 0}`));
}

function drawHosts(hosts) {
  const box = $("hosts");
  if (!hosts.length) {
    box.replaceChildren(el("p", { class: "empty" }, "no worker host has registered yet"));
    return;
  }
  box.replaceChildren(...hosts.map((host) => el("div", { class: "host", "data-host": host.name },
    el("strong", {}, host.name), " ",
    el("span", { class: host.live ? "live" : "down" }, host.live ? "live" : "silent"),
    ` · classes ${(host.classes || []).join(", ")} · CPU slots ${host.cpuSlots}` +
      (host.draining ? " · draining" : ""),
    ...(host.gpus.length ? host.gpus.map(gpuBar) : [el("div", { class: "empty" }, "no GPU")]))));
}

function progressBar(value) {
  return el("div", { class: "progress" },
    el("div", { style: `width:${value}%` }), el("span", {}, `${value}%`));
}

function drawActive(jobs) {
  const body = $("active").tBodies[0];
  if (!jobs.length) {
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colSpan: 7 }, "nothing running")));
    return;
  }
  body.replaceChildren(...jobs.map((job) => el("tr", { "data-job-id": job.id, "data-status": job.status },
    el("td", { class: "num" }, "#" + job.id),
    el("td", {}, job.type),
    el("td", {}, job.resourceCategory),
    el("td", {}, job.status),
    el("td", {}, progressBar(job.progress)),
    el("td", {}, (job.assignedHost || "") + (job.assignedGpu ? " / " + job.assignedGpu : "")),
    el("td", { class: "num" }, job.attempt))));
}

function drawPending(pending) {
  const box = $("pending");
  box.replaceChildren(...CLASSES.map((name) => {
    const jobs = pending[name] || [];
    const rows = jobs.map((job) => el("tr", { "data-job-id": job.id },
      el("td", { class: "num" }, job.position),
      el("td", { class: "num" }, "#" + job.id),
      el("td", {}, job.type),
      el("td", { class: "num" }, job.priority),
      el("td", { class: "num" }, job.vramRequired ? job.vramRequired + " MiB" : ""),
      el("td", {}, job.waitingCode ? el("span", { class: "code" }, job.waitingCode) : ""),
      el("td", { class: "reason" }, job.waitingReason || "")));
    const table = el("table", { "data-class": name },
      el("thead", {}, el("tr", {}, ...["pos", "job", "type", "prio", "VRAM", "code", "waiting reason"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, ...(rows.length ? rows
        : [el("tr", {}, el("td", { class: "empty", colSpan: 7 }, "nothing pending"))])));
    return el("div", {}, el("h3", {}, name), table);
  }));
}

$("signout").addEventListener("click", () => {
  forgetToken(ADMIN_TOKEN_KEY);
  session.start(); // no token left: the form
});
session.start();
