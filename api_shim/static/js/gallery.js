// The public gallery: reads /api/media/public with the form's filters (the API filters,
// sorts and counts; this page only draws), one upvote per browser session.
import { api, sessionId } from "./api.js";
import { $, clear, el, formatCount, formatDuration } from "./dom.js";

const main = $("main");
const pageSize = Number(main.dataset.pageSize) || 24;
const UPVOTED_KEY = "mediaq.upvoted";
let offset = 0;

function upvoted() {
  try {
    return new Set(JSON.parse(localStorage.getItem(UPVOTED_KEY) || "[]"));
  } catch {
    return new Set();
  }
}

function remember(id, on) {
  const ids = upvoted();
  if (on) ids.add(id);
  else ids.delete(id);
  localStorage.setItem(UPVOTED_KEY, JSON.stringify([...ids]));
}

function filters() {
  return {
    category: $("category").value,
    sort: $("sort").value,
    search: $("search").value.trim(),
  };
}

function keepInAddress() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters())) if (value) params.set(key, value);
  if (offset > 0) params.set("page", String(offset / pageSize + 1));
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? "?" + query : ""));
}

function upvoteButton(item) {
  const on = upvoted().has(item.id);
  const button = el(
    "button",
    {
      type: "button",
      class: "upvote",
      "aria-pressed": String(on),
      "aria-label": `Upvote ${item.filename}`,
      "data-id": String(item.id),
    },
    "▲ ",
    el("span", { class: "count" }, String(item.upvoteCount)),
  );
  button.addEventListener("click", async () => {
    const pressed = button.getAttribute("aria-pressed") === "true";
    button.disabled = true;
    try {
      const path = `/api/media/public/${item.id}/upvote`;
      const result = pressed
        ? await api(path, { method: "DELETE", query: { sessionId: sessionId() } })
        : await api(path, { method: "POST", body: { sessionId: sessionId() } });
      remember(item.id, result.upvoted);
      button.setAttribute("aria-pressed", String(result.upvoted));
      button.querySelector(".count").textContent = String(result.upvoteCount);
    } catch (error) {
      $("summary").textContent = `Upvote failed: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function card(item) {
  const href = `/watch/${item.id}`;
  const picture = item.thumbnailUrl
    ? el("img", {
        src: item.thumbnailUrl,
        alt: `Thumbnail of ${item.filename}`,
        loading: "lazy",
        width: 320,
        height: 180,
      })
    : el("span", { class: "no-thumb" }, "no thumbnail");
  return el(
    "li",
    { class: "card", "data-id": String(item.id) },
    el(
      "a",
      { class: "thumb", href, tabIndex: -1, "aria-hidden": "true" },
      picture,
      item.durationSeconds !== null
        ? el("span", { class: "duration" }, formatDuration(item.durationSeconds))
        : null,
    ),
    el(
      "div",
      { class: "body" },
      el("h2", {}, el("a", { href, class: "title" }, item.filename)),
      el(
        "p",
        { class: "meta" },
        el("span", { class: "category" }, item.category),
        " · ",
        el("span", { class: "views" }, formatCount(item.viewCount, "view", "views")),
        " · ",
        formatCount(item.commentCount, "comment", "comments"),
      ),
      upvoteButton(item),
    ),
  );
}

async function load() {
  keepInAddress();
  const summary = $("summary");
  summary.textContent = "Loading…";
  try {
    const data = await api("/api/media/public", {
      query: { ...filters(), limit: pageSize, offset },
    });
    clear($("cards")).append(...data.videos.map(card));
    const { total } = data.pagination;
    summary.textContent =
      total === 0 ? "Nothing here yet." : `${formatCount(total, "video", "videos")}`;
    const pages = Math.max(1, Math.ceil(total / pageSize));
    $("page-info").textContent = `Page ${offset / pageSize + 1} of ${pages}`;
    $("prev").disabled = offset === 0;
    $("next").disabled = !data.pagination.hasMore;
  } catch (error) {
    summary.textContent = `Could not load the gallery: ${error.message}`;
  }
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  offset = 0;
  load();
});
for (const id of ["category", "sort"]) {
  $(id).addEventListener("change", () => {
    offset = 0;
    load();
  });
}
$("prev").addEventListener("click", () => {
  offset = Math.max(0, offset - pageSize);
  load();
});
$("next").addEventListener("click", () => {
  offset += pageSize;
  load();
});

const page = Number(new URLSearchParams(location.search).get("page"));
if (Number.isInteger(page) && page > 1) offset = (page - 1) * pageSize;
load();
