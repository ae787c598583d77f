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
