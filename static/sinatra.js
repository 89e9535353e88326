// Sinatra's only script: small conveniences; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // A Show/Hide button next to each key field, to check a paste before sending it.
  for (const input of document.querySelectorAll("input[data-reveal]")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reveal";
    button.textContent = "Show";
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.setAttribute("aria-label", "Show the key");
    button.addEventListener("click", () => {
      const hidden = input.type === "password";
      input.type = hidden ? "text" : "password";
      button.textContent = hidden ? "Hide" : "Show";
      button.setAttribute("aria-pressed", String(hidden));
      button.setAttribute("aria-label", hidden ? "Hide the key" : "Show the key");
    });
    input.insertAdjacentElement("afterend", button);
  }
  // Invitation links select themselves, ready to copy.
  for (const box of document.querySelectorAll("input.link-box")) {
    box.addEventListener("focus", () => box.select());
  }
});
