// The shared media page: public items with their engagement, category change, lock/unlock
// with a reason, and each item's comments with hide/show/delete.
import { adminSession } from "./api.js";
import { $, el, clear, formatDuration } from "./dom.js";


const session = adminSession(() => load());
const call = session.call;

function notice(text, isError = false) {
  $("notice").textContent = text;
  $("notice").className = isError ? "error" : "muted";
}

async function load() {
  try {
    const page = await call("/api/admin/media", {
      query: { locked: $("f-locked").value, category: $("f-category").value.trim(), limit: 100 },
    });
    $("total").textContent = `${page.pagination.total} items`;
    const body = clear($("rows"));
    for (const item of page.media) body.append(row(item));
  } catch (error) {
    notice(error.message, true);
  }
}

function row(item) {
  const category = el("input", { value: item.category, size: 12, "aria-label": `category of ${item.id}` });
  const save = el("button", { type: "button" }, "Move");
  save.addEventListener("click", async () => {
    try {
      await call(`/api/admin/media/${item.id}`, { method: "PATCH", body: { category: category.value } });
      await load();
      notice(`#${item.id} moved to ${category.value}`);
    } catch (error) {
      notice(error.message, true);
    }
  });
  const reason = el("input", { size: 12, placeholder: "reason", "aria-label": `lock reason of ${item.id}` });
  const lock = el("button", { type: "button", "aria-label": `${item.isLocked ? "Unlock" : "Lock"} ${item.id}` },
    item.isLocked ? "Unlock" : "Lock");
  lock.addEventListener("click", async () => {
    try {
      await call(`/api/admin/media/${item.isLocked ? "unlock" : "lock"}`, {
        method: "POST",
        body: { ids: [item.id], reason: reason.value.trim() || undefined },
      });
      await load();
      notice(`#${item.id} ${item.isLocked ? "unlocked" : "locked"}`);
    } catch (error) {
      notice(error.message, true);
    }
  });
  const comments = el("button", { type: "button", "aria-label": `Comments of ${item.id}` }, "Comments");
  comments.addEventListener("click", () => showComments(item));
  return el(
    "tr",
    { "data-media": item.id },
    el("td", {}, item.id),
    el("td", {}, item.filename),
    el("td", {}, category, " ", save),
    el("td", {}, item.viewCount),
    el("td", {}, item.upvoteCount),
    el("td", {}, item.commentCount),
    el("td", {}, item.finishCount),
    el("td", {}, formatDuration(item.totalWatchTime)),
    el("td", { class: "state" }, item.isLocked ? `locked${item.lockedReason ? ": " + item.lockedReason : ""}` : "public"),
    el("td", {}, reason, " ", lock, " ", comments),
  );
}

async function showComments(item) {
  try {
    const page = await call("/api/media/comments", {
      query: { mediaId: item.id, includeHidden: "true", limit: 100 },
    });
    $("comments").hidden = false;
    $("comments-title").textContent = `Comments on #${item.id} ${item.filename}`;
    const list = clear($("comment-list"));
    for (const comment of page.comments) {
      const hide = el("button", { type: "button" }, comment.hidden ? "Show" : "Hide");
      hide.addEventListener("click", async () => {
        await call(`/api/media/comments/${comment.id}`, { method: "PATCH", body: { hidden: !comment.hidden } });
        showComments(item);
        load();
      });
      const remove = el("button", { type: "button" }, "Delete");
      remove.addEventListener("click", async () => {
        await call(`/api/media/comments/${comment.id}`, { method: "DELETE" });
        showComments(item);
        load();
      });
      list.append(
        el("li", { "data-comment": comment.id, "data-hidden": comment.hidden ? "true" : "false" },
          el("strong", {}, comment.authorName || "anonymous"),
          el("span", {}, comment.content),
          el("span", { class: "muted" }, comment.hidden ? "(hidden)" : ""),
          hide, remove),
      );
    }
    if (!page.comments.length) list.append(el("li", { class: "muted" }, "no comments"));
  } catch (error) {
    notice(error.message, true);
  }
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
session.start();
