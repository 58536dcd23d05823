// The arena page: Ctrl+Enter (or Cmd+Enter) in the prompt sends it.
(function () {
  "use strict";
  const prompt = document.getElementById("id_prompt");
  if (!prompt) return;
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });
})();
