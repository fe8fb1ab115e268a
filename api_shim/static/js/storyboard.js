// Seek previews: a WebVTT thumbnails track (cues "sprite-000.jpg#xywh=x,y,w,h") drawn as the
// frame under the pointer while it hovers the seek bar.
import { $, formatDuration } from "./dom.js";

function parseTime(text) {
  const parts = text.trim().split(":").map(Number);
  return parts.reduce((acc, part) => acc * 60 + part, 0);
}

export function parseVtt(text, base) {
  const cues = [];
  const blocks = text.replace(/\r/g, "").split(/\n\n+/);
  for (const block of blocks) {
    const lines = block.split("\n").filter(Boolean);
    const timing = lines.findIndex((line) => line.includes("-->"));
    if (timing < 0 || !lines[timing + 1]) continue;
    const [from, to] = lines[timing].split("-->").map((s) => parseTime(s.split(" ").filter(Boolean)[0] || s));
    const [file, fragment] = lines[timing + 1].trim().split("#xywh=");
    if (!fragment) continue;
    const [x, y, w, h] = fragment.split(",").map(Number);
    cues.push({ from, to, url: new URL(file, base).toString(), x, y, w, h });
  }
  return cues;
}

export async function attachStoryboard(url, timeline, seek, durationOf) {
  const preview = $("preview");
  const frame = $("preview-frame");
  const label = $("preview-time");
  let cues = [];
  if (url) {
    try {
      const response = await fetch(url, { cache: "no-cache" });
      if (response.ok) cues = parseVtt(await response.text(), new URL(url, location.origin));
    } catch {
      cues = [];
    }
  }
  timeline.dataset.storyboard = cues.length ? "ready" : "none";
  const hide = () => {
    preview.hidden = true;
  };
  seek.addEventListener("pointermove", (event) => {
    const duration = durationOf();
    if (!duration) return;
    const box = seek.getBoundingClientRect();
    const ratio = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const t = ratio * duration;
    label.textContent = formatDuration(t);
    const cue = cues.find((c) => t >= c.from && t < c.to) || cues[cues.length - 1];
    if (cue) {
      frame.style.width = `${cue.w}px`;
      frame.style.height = `${cue.h}px`;
      frame.style.backgroundImage = `url("${cue.url}")`;
      frame.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
      frame.hidden = false;
    } else {
      frame.hidden = true;
    }
    preview.style.left = `${ratio * 100}%`;
    preview.hidden = false;
  });
  seek.addEventListener("pointerleave", hide);
  seek.addEventListener("blur", hide);
}
