// Sinatra's only script: small conveniences; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // A Show/Hide button next to each key field, to check a paste before sending it. Its name
  // says which field ("Show the Anthropic API key"): a page has one per key field. The field
  // is masked by the stylesheet until it has the class "revealed".
  for (const input of document.querySelectorAll("input[data-reveal]")) {
    const what = (input.labels && input.labels[0] ? input.labels[0].textContent.trim() : "") || "key";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reveal";
    button.textContent = "Show";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-label", `Show the ${what}`);
    button.addEventListener("click", () => {
      const shown = input.classList.toggle("revealed");
      button.textContent = shown ? "Hide" : "Show";
      button.setAttribute("aria-label", `${shown ? "Hide" : "Show"} the ${what}`);
    });
    input.insertAdjacentElement("afterend", button);
  }
  // After a refused submit, start where the first problem is.
  const invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
  // Invitation links select themselves, ready to copy.
  for (const box of document.querySelectorAll("input.link-box")) {
    box.addEventListener("focus", () => box.select());
  }
});
