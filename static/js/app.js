// Small progressive enhancements; every form also works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

// Forms that destroy something ask first.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// Live filter: <input data-filter-target=".tile"> hides tiles whose data-filter-text misses the query.
document.addEventListener("input", (event) => {
  const input = event.target.closest("input[data-filter-target]");
  if (!input) return;
  const query = input.value.trim().toLowerCase();
  document.querySelectorAll(input.dataset.filterTarget).forEach((tile) => {
    tile.hidden = query !== "" && !tile.dataset.filterText.toLowerCase().includes(query);
  });
});

// Disclosure menus (<details> whose <summary role="button" aria-expanded>: the Canvas gear,
// the + between steps): the expanded state follows the details, and Escape closes an open one
// and puts focus back on its button. "toggle" does not bubble, hence the capture.
document.addEventListener(
  "toggle",
  (event) => {
    const details = event.target;
    if (!(details instanceof HTMLDetailsElement)) return;
    const summary = details.querySelector(":scope > summary[aria-expanded]");
    if (summary) summary.setAttribute("aria-expanded", String(details.open));
  },
  true,
);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const details = event.target.closest("details[open]");
  const summary = details && details.querySelector(":scope > summary[aria-expanded]");
  if (!summary) return;
  details.open = false;
  summary.focus();
});

// What changes without a reload is read to screen readers through the page's one live region
// (#live-announcer in base.html): after an htmx swap, each new element with data-announce is
// read (its attribute's text, else its own). data-announce-key names a figure that is swapped
// in again and again: it is read only when it changed, and with data-announce-every="N" at
// most every N seconds (the analytics numbers refresh every 5 s).
const announced = new Map();
const announcement = (element) => ({
  key: element.dataset.announceKey,
  text: (element.dataset.announce || element.textContent).replace(/\s+/g, " ").trim(),
});
document.addEventListener("htmx:afterSettle", () => {
  const region = document.getElementById("live-announcer");
  if (!region) return;
  const now = Date.now();
  const texts = [];
  document.querySelectorAll("[data-announce]:not([data-announced])").forEach((element) => {
    element.setAttribute("data-announced", "");
    const { key, text } = announcement(element);
    if (!text) return;
    if (key) {
      const last = announced.get(key);
      const every = Number(element.dataset.announceEvery || 0) * 1000;
      if (last && (last.text === text || now - last.at < every)) return;
      announced.set(key, { text, at: now });
    }
    texts.push(text);
  });
  if (!texts.length) return;
  region.textContent = "";
  // A new text node after a pause, so that a repeated sentence is read again.
  window.setTimeout(() => {
    region.textContent = texts.join(" ");
  }, 100);
});
// What the first page load shows is not news: mark it as read.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-announce]").forEach((element) => {
    element.setAttribute("data-announced", "");
    const { key, text } = announcement(element);
    // at 0: the first change is read at once, whatever the throttle.
    if (key) announced.set(key, { text, at: 0 });
  });
});
