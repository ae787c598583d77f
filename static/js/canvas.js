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


  // The audience type-ahead follows the ARIA combobox pattern with list autocomplete: the
  // search field is the combobox and keeps the focus, the options are a listbox that it
  // controls, and the option reached with the arrow keys is its aria-activedescendant. The
  // server renders the options as radios, which is what a browser without JavaScript shows
  // and what the form posts: here they are hidden behind the listbox, and accepting an option
  // (Enter or a click) ticks its radio. Escape closes the list; typing, Down or Up opens it.
  const COMBOBOX_ID = "id_audience_query";
  const LISTBOX_ID = "audience-listbox";

  function audienceCombobox() {
    const input = document.getElementById(COMBOBOX_ID);
    return input && input.getAttribute("role") === "combobox" ? input : null;
  }

  function audienceOptions() {
    const listbox = document.getElementById(LISTBOX_ID);
    return listbox ? [...listbox.querySelectorAll("[role=option]")] : [];
  }

  function setListboxOpen(open) {
    const input = audienceCombobox();
    const listbox = document.getElementById(LISTBOX_ID);
    if (!input) return;
    const shown = Boolean(open && listbox && audienceOptions().length);
    if (listbox) listbox.hidden = !shown;
    input.setAttribute("aria-expanded", String(shown));
    if (!shown) setActiveOption(null);
  }

  function setActiveOption(option) {
    const input = audienceCombobox();
    audienceOptions().forEach((each) => each.classList.toggle("active", each === option));
    if (!input) return;
    if (option) {
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function acceptOption(option) {
    const input = audienceCombobox();
    const radio = document.getElementById(option.dataset.radio);
    if (!input || !radio) return;
    audienceOptions().forEach((each) => each.setAttribute("aria-selected", String(each === option)));
    if (radio.dataset.audienceName) input.value = radio.dataset.audienceName;
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    setListboxOpen(false);
  }

  // Called after each swap of #audience-options: the radios become the listbox's options.
  function buildAudienceListbox(holder) {
    const input = document.getElementById(COMBOBOX_ID);
    if (!input || !holder) return;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", LISTBOX_ID);
    const group = holder.querySelector("[role=radiogroup]");
    const radios = group ? [...group.querySelectorAll("input[name=audience]")] : [];
    if (radios.length) {
      const listbox = document.createElement("div");
      listbox.id = LISTBOX_ID;
      listbox.className = "audience-options";
      listbox.setAttribute("role", "listbox");
      listbox.setAttribute("aria-label", group.getAttribute("aria-label"));
      radios.forEach((radio) => {
        const option = document.createElement("div");
        option.id = `${radio.id}-option`;
        option.className = radio.parentElement.className;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", String(radio.checked));
        option.dataset.radio = radio.id;
        radio.labels[0].childNodes.forEach((node) => option.append(node.cloneNode(true)));
        listbox.append(option);
      });
      group.hidden = true;
      group.after(listbox);
    }
    // Opened for what was typed; on a fresh editor it opens only if nothing is chosen yet.
    const chosen = radios.some((radio) => radio.checked);
    setListboxOpen(document.activeElement === input || !chosen);
  }

  function onComboboxKey(event) {
    const input = audienceCombobox();
    if (!input || event.target !== input) return;
    const options = audienceOptions();
    const open = input.getAttribute("aria-expanded") === "true";
    const active = document.getElementById(input.getAttribute("aria-activedescendant") || "");
    const at = options.indexOf(active);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!options.length) return;
      event.preventDefault();
      if (!open) setListboxOpen(true);
      if (event.altKey) return;
      const step = event.key === "ArrowDown" ? 1 : -1;
      const next = at < 0 ? (step > 0 ? 0 : options.length - 1) : (at + step + options.length) % options.length;
      setActiveOption(options[next]);
    } else if (event.key === "Enter" && open && active) {
      event.preventDefault(); // accept the option; do not submit the form
      acceptOption(active);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      event.stopPropagation();
      setListboxOpen(false);
    }
  }

  document.addEventListener("keydown", onComboboxKey);
  // Options are chosen with a click too; the focus stays in the field.
  document.addEventListener("mousedown", (event) => {
    if (event.target.closest(`#${LISTBOX_ID} [role=option]`)) event.preventDefault();
  });
  document.addEventListener("click", (event) => {
    const option = event.target.closest(`#${LISTBOX_ID} [role=option]`);
    if (option) acceptOption(option);
    else if (event.target === audienceCombobox()) setListboxOpen(true);
  });

  function apply(root) {
    root.querySelectorAll("select[name=filter_field]").forEach(syncFilterRow);
    root.querySelectorAll("input[name=entry_type]").forEach((input) => syncEntry(input.form));
    const sections = root.querySelector("[data-audience-section]");
    if (sections) syncAudienceSections(sections.form || sections.closest("form"));
    const holder = root.id === "audience-options" ? root : root.querySelector("#audience-options");
    if (holder) buildAudienceListbox(holder);
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
