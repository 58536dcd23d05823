// Failed htmx requests, in one place: a 5xx (htmx does not swap it: see the htmx-config in
// templates/base.html), a refusal that came back as a whole error page or with no text, and a request
// that never reached the server. The message appears next to the element that sent the request (a
// role=alert paragraph after the form), is replaced by its next error and removed by its next success.
// A form's buttons are disabled while its request runs and enabled again whatever the outcome.
(function () {
  "use strict";
  const alerts = new WeakMap(); // element that sent a request -> its error paragraph
  const held = new WeakMap(); // element that sent a request -> the buttons disabled meanwhile

  const serverFailed = (status) =>
    `Something went wrong on our side (${status}). Your input was not saved; try again.`;
  const unreachable = "Could not reach the server. Check your connection, then try again.";

  function source(event) {
    const config = event.detail && event.detail.requestConfig;
    return (config && config.elt) || event.target;
  }

  // Views answer htmx with fragments; a whole document is an error page (templates/404.html and kin).
  function isPage(html) {
    return /^\s*(<!doctype html|<html[\s>])/i.test(html || "");
  }

  function textOf(html, selector) {
    const found = new DOMParser().parseFromString(html, "text/html").querySelector(selector); // inert
    return found ? found.textContent.replace(/\s+/g, " ").trim() : "";
  }

  function messageFor(xhr) {
    const body = xhr.responseText || "";
    if (xhr.status >= 500) return (!isPage(body) && textOf(body, "[role=alert]")) || serverFailed(xhr.status);
    const said = isPage(body) ? textOf(body, "[data-error-message]") : textOf(body, "[role=alert]");
    return said || `This was refused (${xhr.status}). Reload the page and try again.`;
  }

  function show(elt, message) {
    let alert = alerts.get(elt);
    if (!alert || !alert.isConnected) {
      alert = document.createElement("p");
      alert.className = "error request-error";
      alert.setAttribute("role", "alert");
      const main = document.querySelector("main") || document.body;
      if (elt.isConnected && elt !== document.body && elt !== document.documentElement) elt.after(alert);
      else main.prepend(alert);
      alerts.set(elt, alert);
    }
    alert.textContent = message;
    alert.scrollIntoView({ block: "nearest" });
  }

  function clear(elt) {
    const alert = alerts.get(elt);
    if (alert) alert.remove();
    alerts.delete(elt);
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    const elt = source(event);
    let buttons = [];
    if (elt.matches("form")) buttons = Array.from(elt.querySelectorAll("button, input[type=submit]"));
    else if (elt.matches("button, input[type=submit]")) buttons = [elt];
    buttons = buttons.filter((button) => !button.disabled);
    buttons.forEach((button) => { button.disabled = true; });
    held.set(elt, buttons);
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = source(event);
    (held.get(elt) || []).forEach((button) => { button.disabled = false; });
    held.delete(elt);
    if (event.detail.successful) clear(elt);
  });

  // A 4xx fragment is swapped where the view meant it to go; a whole page or an empty body is not.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 && (isPage(xhr.responseText) || !(xhr.responseText || "").trim())) {
      event.detail.shouldSwap = false;
      event.detail.isError = true;
    }
  });

  document.addEventListener("htmx:responseError", (event) => show(source(event), messageFor(event.detail.xhr)));
  document.addEventListener("htmx:sendError", (event) => show(source(event), unreachable));
  document.addEventListener("htmx:timeout", (event) => show(source(event), unreachable));
})();
