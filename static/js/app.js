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
