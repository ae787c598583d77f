// Canvas builder: show only the inputs that apply to the chosen filter and entry type.
// Without JavaScript every input stays visible and the server ignores the ones that don't apply.
(() => {
  const KINDS = { country: ["text"], custom_attribute: ["custom", "text"] };

  function syncFilterRow(select) {
    const row = select.closest(".filter-add");
    if (!row) return;
    const kinds = select.value ? KINDS[select.value] || ["flag"] : [];
    row.querySelectorAll("[data-filter-kind]").forEach((el) => {
      el.toggleAttribute("data-hidden", !kinds.includes(el.dataset.filterKind));
    });
  }

  function syncEntry(form) {
    const checked = form.querySelector("input[name=entry_type]:checked");
    if (!checked) return;
    form.querySelectorAll("[data-entry-type]").forEach((el) => {
      el.toggleAttribute("data-hidden", el.dataset.entryType !== checked.value);
    });
  }

  // Audience Sync editor: show the section that follows the chosen audience (new → Create
  // Audience; existing or a draft → Add/Remove and Done). Hidden sections are disabled too,
  // so the form posts only what is shown.
  function syncAudienceSections(form) {
    if (!form) return;
    const checked = form.querySelector("input[name=audience]:checked");
    const mode = checked ? checked.dataset.audienceMode || "existing" : "";
    form.querySelectorAll("[data-audience-section]").forEach((section) => {
      const off = section.dataset.audienceSection !== mode;
      section.hidden = off;
      section.disabled = off;
      // Both sections' Add/Remove radios share the name "action" (one radio group): tick the
      // shown section's choice, else its default, so the editor shows what will be saved.
      const radios = section.querySelectorAll("input[name=action]");
      if (off || !radios.length || section.querySelector("input[name=action]:checked")) return;
      const chosen = section.dataset.chosenAction;
      const pick =
        [...radios].find((radio) => radio.value === chosen) ||
        section.querySelector("input[name=action][data-default]") ||
        radios[0];
      pick.checked = true;
    });
  }

  function apply(root) {
    root.querySelectorAll("select[name=filter_field]").forEach(syncFilterRow);
    root.querySelectorAll("input[name=entry_type]").forEach((input) => syncEntry(input.form));
    const sections = root.querySelector("[data-audience-section]");
    if (sections) syncAudienceSections(sections.form || sections.closest("form"));
    if (root.id === "audience-options") syncAudienceSections(root.closest("form"));
  }

  document.addEventListener("change", (event) => {
    if (event.target.matches("select[name=filter_field]")) syncFilterRow(event.target);
    if (event.target.matches("input[name=entry_type]")) syncEntry(event.target.form);
    if (event.target.matches("input[name=audience]")) syncAudienceSections(event.target.form);
    if (event.target.matches("input[name=action]")) {
      const section = event.target.closest("[data-audience-section]");
      if (section) section.dataset.chosenAction = event.target.value;
    }
  });
  document.addEventListener("DOMContentLoaded", () => apply(document));
  document.addEventListener("htmx:afterSwap", (event) => apply(event.target));
})();
