// DOM helpers shared by every page. Text always goes in as text nodes (never as HTML), so a
// title, file name, category or comment from a user or from the disk cannot add markup.

export function $(id) {
  return document.getElementById(id);
}

// el("a", {href: "/x", class: "card", "aria-label": "..."}, "text", childNode, ...)
// Keys: "class" -> className, "data-*" and "aria-*" -> attributes, "style" -> CSSOM
// (allowed under the CSP, unlike a style attribute), anything else -> the DOM property.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
      node.setAttribute(key, value);
    } else if (key === "style") node.style.cssText = value;
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// "1:05", "1:02:03"
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "";
  const total = Math.max(0, Math.floor(Number(seconds)));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

export function formatCount(n, one, many) {
  const value = Number(n) || 0;
  return `${value.toLocaleString("en")} ${value === 1 ? one : many}`;
}
