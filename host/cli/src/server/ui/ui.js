// The worker's page, live: new calls appear at the top of the list as they
// end (Server-Sent Events from /ui/calls/live), ages count up, and the
// components' counters and charts refresh every few seconds. Without
// JavaScript the page is the same, as of when it was loaded.
"use strict";

const KEEP_ROWS = 200;
const REFRESH_MS = 5000;

function ago(ms) {
  const seconds = Math.max(0, Math.floor((Date.now() - ms) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes}m ${seconds % 60}s ago` : `${Math.floor(minutes / 60)}h ${minutes % 60}m ago`;
}

function updateAges() {
  for (const row of document.querySelectorAll("tr.call[data-at]")) {
    row.querySelector(".age").textContent = ago(Number(row.dataset.at));
  }
}

function listenForCalls() {
  const body = document.getElementById("calls-body");
  if (!body || !window.EventSource) return;
  const calls = new EventSource("/ui/calls/live");
  calls.addEventListener("open", () => {
    document.documentElement.dataset.live = "on";
  });
  calls.addEventListener("error", () => {
    document.documentElement.dataset.live = "off";
  });
  calls.addEventListener("call", (event) => {
    body.insertAdjacentHTML("afterbegin", event.data);
    body.firstElementChild.classList.add("fresh");
    while (body.children.length > KEEP_ROWS) body.lastElementChild.remove();
    updateAges();
  });
}

// Replaces the components section with a fresh rendering of the page's.
async function refreshComponents() {
  const current = document.getElementById("components");
  if (!current) return;
  try {
    const response = await fetch("/ui", { headers: { accept: "text/html" } });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("components");
    if (!fresh) return;
    // Keep open what the reader opened.
    for (const open of current.querySelectorAll("details[open][id]")) {
      const same = fresh.querySelector(`#${CSS.escape(open.id)}`);
      if (same) same.open = true;
    }
    current.replaceWith(fresh);
    const summary = page.querySelector(".summary");
    const shown = document.querySelector(".summary");
    if (summary && shown) shown.replaceWith(summary);
  } catch (_) {
    // The worker may be restarting; the next tick tries again.
  }
}

document.addEventListener("submit", (event) => {
  const question = event.submitter && event.submitter.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

listenForCalls();
setInterval(updateAges, 1000);
setInterval(refreshComponents, REFRESH_MS);
