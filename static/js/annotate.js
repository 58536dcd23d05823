// The annotator page by keyboard. Each question is a fieldset.group; its radios name their keys in
// data-keys. A key answers the current question and moves to the next; Ctrl+Enter submits; s goes
// to the skip reason; r to the rationale; g opens the guidelines. The task region is swapped by htmx
// after each submit, so the state is re-read from the page every time.
(function () {
  "use strict";
  let shownAt = Date.now();
  let current = 0;

  const groups = () => Array.from(document.querySelectorAll("#answer-form fieldset.group"));

  function mark() {
    groups().forEach((g, i) => g.classList.toggle("current", i === current));
  }

  document.body.addEventListener("htmx:afterSwap", () => { shownAt = Date.now(); current = 0; mark(); });
  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "answer-form") {
      event.detail.parameters.time_spent_ms = String(Date.now() - shownAt);
    }
  });
  document.addEventListener("submit", (event) => {
    if (event.target.id === "answer-form") {
      event.target.querySelector("input[name=time_spent_ms]").value = String(Date.now() - shownAt);
    }
  }, true);

  document.addEventListener("keydown", (event) => {
    const form = document.getElementById("answer-form");
    if (!form) return;
    if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
      event.preventDefault();
      const target = event.target.closest && event.target.closest("form");
      (target && target.id === "skip-form" ? target : form).requestSubmit();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || (tag === "input" && event.target.type !== "radio")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (event.key === "s") {
      event.preventDefault();
      document.getElementById("id_skip_reason").focus();
      return;
    }
    if (event.key === "r") {
      const rationale = document.getElementById("id_rationale");
      if (rationale) { event.preventDefault(); rationale.focus(); }
      return;
    }
    if (event.key === "g") {
      const guidelines = document.getElementById("guidelines");
      if (guidelines) { event.preventDefault(); guidelines.open = !guidelines.open; }
      return;
    }
    const all = groups();
    if (!all.length) return;
    const group = all[Math.min(current, all.length - 1)];
    const radio = Array.from(group.querySelectorAll("input[type=radio]"))
      .find((r) => (r.dataset.keys || "").split(" ").includes(event.key));
    if (radio) {
      event.preventDefault();
      radio.checked = true;
      current = Math.min(current + 1, all.length - 1);
      mark();
    } else if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      event.preventDefault();
      current = Math.max(0, Math.min(all.length - 1, current + (event.key === "ArrowDown" ? 1 : -1)));
      mark();
    }
  });
  mark();
})();
