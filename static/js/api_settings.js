// Settings > APIs and Identifiers: select the new key on focus (easy to copy) and ask before
// revoking. Without JavaScript the page still works: the key is selectable, revoke posts.
document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
