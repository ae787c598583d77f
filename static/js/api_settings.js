// Settings > APIs and Identifiers: select the new key on focus, so it is easy to copy.
// (Revoke's confirmation is app.js's generic form[data-confirm] handler.)
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
