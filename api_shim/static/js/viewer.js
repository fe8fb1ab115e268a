// The viewer: player on the Range stream, view/finish/watch time, reactions at the current
// second with a heatmap over the seek bar, comments, related videos, share at a time.
import { api, ApiError, forgetToken, sessionId, storedToken, USER_TOKEN_KEY } from "./api.js";
import { $, clear, el, formatDuration, svg } from "./dom.js";
import { attachStoryboard } from "./storyboard.js";

const main = $("main");
const mediaId = Number(main.dataset.mediaId);
const segments = Number(main.dataset.segments) || 100;
const video = $("video");
const seek = $("seek");
const WATCH_FLUSH_S = 15; // watch time goes out every 15 s of play, on pause and on leaving
let duration = Number(main.dataset.duration) || 0;
let token = storedToken(USER_TOKEN_KEY);
let config = []; // the six reaction types
let lastReactions = [];

// ---- playback position, ?t= and the share link --------------------------------------------
function startAt() {
  const t = Number(new URLSearchParams(location.search).get("t"));
  return Number.isFinite(t) && t > 0 ? t : 0;
}

function shareUrl() {
  const url = new URL(location.pathname, location.origin);
  const t = Math.floor(video.currentTime || 0);
  if (t > 0) url.searchParams.set("t", String(t));
  return url.toString();
}

function updateShare() {
  $("share-url").value = shareUrl();
}

function onMetadata() {
  if (Number.isFinite(video.duration) && video.duration > 0) duration = video.duration;
  seek.max = String(duration);
  const t = startAt();
  if (t > 0 && t < duration) video.currentTime = t;
  drawMarkers(lastReactions);
  updateShare();
}
// The metadata may have arrived before this module ran.
if (video.readyState >= 1) onMetadata();
else video.addEventListener("loadedmetadata", onMetadata, { once: true });
video.addEventListener("timeupdate", () => {
  if (document.activeElement !== seek) seek.value = String(video.currentTime);
  updateShare();
});
seek.addEventListener("input", () => {
  video.currentTime = Number(seek.value);
});
$("copy").addEventListener("click", async () => {
  updateShare();
  try {
    await navigator.clipboard.writeText($("share-url").value);
    $("copy").textContent = "Copied";
  } catch {
    $("share-url").select();
  }
});

// ---- view, finish, watch time --------------------------------------------------------------
// Loading the page is not a view: the counts are read with countView=false, and the view is
// reported by the player once it has really played a few seconds (the server says how many,
// and keeps its own clock from the first report, sent when playback starts).
async function loadCounts() {
  try {
    const media = await api(`/api/media/public/${mediaId}`, {
      query: { sessionId: sessionId(), countView: "false" },
    });
    $("views").textContent = String(media.viewCount);
    $("upvotes").textContent = String(media.upvoteCount);
  } catch {
    /* the page still plays */
  }
}

let played = 0; // seconds really played (seeks excluded)
let view = "idle"; // idle -> started (first report sent) -> reported (counted or not)
let minPlay = null; // the server's minimum play before a view counts

async function reportView() {
  try {
    const answer = await api(`/api/media/public/${mediaId}/view`, {
      method: "POST",
      body: { sessionId: sessionId(), playedSeconds: played },
    });
    minPlay = answer.minPlaySeconds;
    if (answer.counted) {
      view = "reported";
      $("views").textContent = String(Number($("views").textContent) + 1);
    }
  } catch {
    view = "reported"; // refused (too many reports) or offline: never retried in a loop
  }
}

video.addEventListener("playing", () => {
  if (view !== "idle") return;
  view = "started";
  reportView();
});

function maybeCountView(ended = false) {
  if (view !== "started" || minPlay === null) return;
  // At the end of a clip as short as the minimum, frame timing may leave played a hair short.
  if (played >= minPlay || (ended && played >= minPlay - 1)) {
    view = "reported";
    played = Math.max(played, minPlay);
    reportView();
  }
}

let lastTime = null;
let unsent = 0;
let finished = false;

function flushWatchTime() {
  const seconds = Math.floor(unsent);
  if (seconds < 1) return;
  unsent -= seconds;
  api(`/api/media/public/${mediaId}/watch-time`, {
    method: "POST",
    body: { seconds, sessionId: sessionId() },
  }).catch(() => {});
}

video.addEventListener("timeupdate", () => {
  const now = video.currentTime;
  if (!video.paused && !video.seeking && lastTime !== null) {
    const step = now - lastTime;
    if (step > 0 && step < 2) {
      unsent += step; // a jump is a seek, not watching
      played += step;
      maybeCountView();
    }
  }
  lastTime = now;
  if (unsent >= WATCH_FLUSH_S) flushWatchTime();
});
video.addEventListener("seeking", () => {
  lastTime = null;
});
video.addEventListener("pause", flushWatchTime);
video.addEventListener("ended", () => {
  maybeCountView(true);
  flushWatchTime();
  if (finished) return;
  finished = true;
  api(`/api/media/public/${mediaId}/finish`, {
    method: "POST",
    body: { sessionId: sessionId() },
  }).catch(() => {});
});
addEventListener("pagehide", flushWatchTime);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") flushWatchTime();
});

// ---- reactions, markers, heatmap -----------------------------------------------------------
function emojiOf(type) {
  const found = config.find((c) => c.type === type);
  return found ? found.emoji : type;
}

function jumpTo(seconds) {
  video.currentTime = seconds;
  seek.value = String(seconds);
}

// One marker per second that has reactions: its most frequent emoji, and how many.
function drawMarkers(reactions) {
  const box = clear($("markers"));
  if (!duration) return;
  const bySecond = new Map();
  for (const r of reactions) {
    const group = bySecond.get(r.videoTimestamp) || { t: r.videoTimestamp, time: r.formattedTime, types: new Map() };
    group.types.set(r.reactionType, (group.types.get(r.reactionType) || 0) + 1);
    bySecond.set(r.videoTimestamp, group);
  }
  for (const group of bySecond.values()) {
    const [top] = [...group.types.entries()].sort((a, b) => b[1] - a[1]);
    const count = [...group.types.values()].reduce((a, b) => a + b, 0);
    const left = Math.min(100, (100 * group.t) / duration);
    const names = [...group.types.keys()].join(", ");
    const button = el(
      "button",
      {
        type: "button",
        class: "marker",
        style: `left:${left}%`,
        title: `${group.time}: ${count} (${names})`,
        "aria-label": `Jump to ${group.time} (${count} reactions: ${names})`,
        "data-t": String(group.t),
        "data-count": String(count),
      },
      emojiOf(top[0]),
      count > 1 ? el("sub", {}, String(count)) : null,
    );
    button.addEventListener("click", () => jumpTo(group.t));
    box.append(button);
  }
}

function drawList(reactions) {
  const list = clear($("reaction-list"));
  for (const r of reactions) {
    const jump = el("button", { type: "button", class: "link" }, r.formattedTime);
    jump.addEventListener("click", () => jumpTo(r.videoTimestamp));
    list.append(
      el(
        "li",
        { "data-id": String(r.id) },
        el("span", { class: "emoji", role: "img", "aria-label": r.reactionType }, emojiOf(r.reactionType)),
        " at ",
        jump,
        el("span", { class: "muted" }, ` · user ${r.userId}`),
      ),
    );
  }
}

// A smooth curve through the segment centres (cubic Béziers between midpoints).
function heatPath(curve) {
  const h = 20;
  const pts = curve.map((v, i) => [i + 0.5, h - v * (h - 1)]);
  let d = `M0 ${h} L0 ${pts[0][1].toFixed(2)} L${pts[0][0]} ${pts[0][1].toFixed(2)}`;
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    const mx = (x0 + x1) / 2;
    d += ` C${mx} ${y0.toFixed(2)} ${mx} ${y1.toFixed(2)} ${x1} ${y1.toFixed(2)}`;
  }
  d += ` L${curve.length} ${pts[pts.length - 1][1].toFixed(2)} L${curve.length} ${h} Z`;
  return d;
}

async function loadHeatmap() {
  const heat = clear($("heat"));
  try {
    const data = await api("/api/reactions/heatmap", { query: { mediaId } });
    heat.dataset.total = String(data.total);
    if (data.curve) {
      heat.append(svg("path", { d: heatPath(data.curve), class: "curve" }));
      heat.dataset.drawn = "true";
      $("heat-note").textContent = `Reaction heatmap: ${data.total} reactions`;
    } else {
      heat.dataset.drawn = "false";
      const more = data.minReactions - data.total;
      $("heat-note").textContent = `The reaction heatmap appears after ${more} more reaction${more === 1 ? "" : "s"}.`;
    }
  } catch {
    heat.dataset.drawn = "false";
  }
}

async function loadReactions() {
  try {
    const data = await api("/api/reactions", { query: { mediaId, limit: 100 } });
    lastReactions = data.reactions;
    drawMarkers(lastReactions);
    drawList(lastReactions);
  } catch {
    /* keep what is shown */
  }
  await loadHeatmap();
}

function showSignIn(message) {
  for (const b of $("reaction-buttons").querySelectorAll("button")) b.disabled = true;
  $("react-note").textContent = message || "Sign in to react.";
}

async function react(type) {
  const note = $("react-note");
  try {
    const t = Math.floor(video.currentTime || 0);
    await api("/api/reactions", {
      method: "POST",
      token,
      body: { mediaId, reactionType: type, videoTimestamp: t },
    });
    note.textContent = `You reacted ${emojiOf(type)} at ${formatDuration(t)}.`;
    await loadReactions();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken(USER_TOKEN_KEY);
      token = null;
      showSignIn("Your sign-in expired. Sign in to react.");
    } else {
      note.textContent = `Could not react: ${error.message}`;
    }
  }
}

async function setUpReactions() {
  try {
    config = (await api("/api/reactions/config")).reactions;
  } catch {
    config = [];
  }
  const box = clear($("reaction-buttons"));
  for (const c of config) {
    const button = el(
      "button",
      { type: "button", class: "reaction", "data-type": c.type, "aria-label": `${c.label} at the current moment` },
      el("span", { "aria-hidden": "true" }, c.emoji),
      ` ${c.label}`,
    );
    button.addEventListener("click", () => react(c.type));
    box.append(button);
  }
  if (!token) showSignIn("Sign in to react.");
  await loadReactions();
}

// ---- comments ------------------------------------------------------------------------------
async function loadComments() {
  try {
    const data = await api("/api/media/comments", { query: { mediaId, limit: 50 } });
    const list = clear($("comment-list"));
    for (const c of data.comments) {
      const when = c.videoTimestamp !== null && c.videoTimestamp !== undefined
        ? el("button", { type: "button", class: "link", "data-t": String(c.videoTimestamp) }, c.formattedTime)
        : null;
      if (when) when.addEventListener("click", () => jumpTo(c.videoTimestamp));
      list.append(
        el(
          "li",
          { "data-id": String(c.id) },
          el("p", { class: "who" }, el("strong", {}, c.authorName), when ? " at " : "", when),
          el("p", { class: "text" }, c.content),
        ),
      );
    }
  } catch {
    /* keep what is shown */
  }
}

$("comment-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const note = $("comment-note");
  const content = $("comment-text").value.trim();
  if (!content) {
    note.textContent = "Write something first.";
    return;
  }
  try {
    await api("/api/media/comments", {
      method: "POST",
      token,
      body: {
        mediaId,
        content,
        authorName: $("comment-author").value.trim() || undefined,
        sessionId: sessionId(),
        videoTimestamp: Math.floor(video.currentTime || 0),
      },
    });
    $("comment-text").value = "";
    note.textContent = "Comment posted.";
    await loadComments();
  } catch (error) {
    note.textContent = `Could not post: ${error.message}`;
  }
});

// ---- related -------------------------------------------------------------------------------
async function loadRelated() {
  const list = clear($("related"));
  try {
    const data = await api("/api/media/public", {
      query: { category: main.dataset.category, sort: "popular", limit: 7 },
    });
    for (const item of data.videos.filter((v) => v.id !== mediaId).slice(0, 6)) {
      const href = `/watch/${item.id}`;
      list.append(
        el(
          "li",
          {},
          el(
            "a",
            { href },
            item.thumbnailUrl
              ? el("img", { src: item.thumbnailUrl, alt: "", loading: "lazy", width: 160, height: 90 })
              : null,
            el("span", { class: "name" }, item.filename),
          ),
          el("span", { class: "muted" }, ` ▲ ${item.upvoteCount}`),
        ),
      );
    }
    if (!list.children.length) list.append(el("li", { class: "muted" }, "Nothing else in this category yet."));
  } catch {
    /* optional */
  }
}

updateShare();
loadCounts();
setUpReactions();
loadComments();
loadRelated();
attachStoryboard(main.dataset.storyboard, $("timeline"), seek, () => duration);
