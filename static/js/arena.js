// The battle page: streams both answers over one websocket and opens the vote when both are done.
// Streamed text is set with textContent (inert); finished answers arrive as HTML the server sanitized.
(function () {
  "use strict";
  const battle = document.getElementById("battle");
  if (!battle) return;
  const answers = {}; // "turn-side" -> {text, next}
  let state = battle.dataset.state;
  let socket = null;
  let retries = 0;
  let reconnectTimer = null;
  let forbidden = false;
  let lastHeard = Date.now();
  // While the battle is generating the server sends something at least every 10 s (chunks, or a fresh
  // snapshot on a quiet socket), so a socket silent this long is dead, or was left behind by its server:
  // the page drops it and connects again, and the new socket's snapshot brings what was missed. Read at
  // each check, so a page (or a test) can change it: <section id="battle" data-quiet-ms="…">.
  const DEFAULT_QUIET_MS = 15000;
  function quietMs() { return Number(battle.dataset.quietMs) || DEFAULT_QUIET_MS; }

  function pane(turn, side) { return document.getElementById(`answer-${turn}-${side}`); }
  function entry(turn, side) {
    const key = `${turn}-${side}`;
    return answers[key] || (answers[key] = { text: "", next: 0, html: null, failed: null });
  }

  // Frames for a turn whose panes htmx has not inserted yet are kept and drawn once it has.
  function draw(turn, side) {
    const el = pane(turn, side);
    if (!el) return;
    const a = entry(turn, side);
    const body = el.querySelector(".body");
    const status = el.querySelector(".answer-status");
    if (a.html !== null) {
      if (a.html.trim()) {
        body.innerHTML = a.html;
      } else {
        // Done with no text at all: say so, rather than leave a blank pane that looks still to come.
        const empty = document.createElement("p");
        empty.className = "empty-answer";
        empty.textContent = "This model returned an empty answer.";
        body.replaceChildren(empty);
      }
      el.dataset.state = "done";
      el.setAttribute("aria-busy", "false");
      status.textContent = "";
    } else {
      let stream = body.querySelector(".stream");
      if (!stream) { stream = document.createElement("div"); stream.className = "stream"; body.replaceChildren(stream); }
      if (a.text) stream.textContent = a.text;
      if (a.failed !== null) {
        el.dataset.state = "failed";
        el.setAttribute("aria-busy", "false");
        status.textContent = a.failed;
      } else if (a.text) {
        el.dataset.state = "generating";
      }
    }
  }

  function setState(newState, message) {
    if (newState === "generating" && state !== "generating") lastHeard = Date.now(); // a new turn: quiet from now
    state = newState;
    battle.dataset.state = newState;
    const voting = document.getElementById("vote-fieldset");
    const followup = document.getElementById("followup-fieldset");
    if (voting) voting.disabled = newState !== "ready";
    if (followup) followup.disabled = newState !== "ready";
    const status = document.getElementById("battle-status");
    if (newState === "failed") {
      status.className = "error";
      status.textContent = (message || "This battle failed.") + " ";
      const again = document.createElement("a");
      again.href = "/arena/"; again.className = "button"; again.id = "new-battle"; again.textContent = "New battle";
      status.appendChild(again);
      const panel = document.getElementById("vote-form");
      if (panel) panel.hidden = true;
      const form = document.getElementById("followup-form");
      if (form) form.hidden = true;
    } else if (newState === "ready") {
      status.className = "";
      status.textContent = "Both answers are in. Vote below.";
    } else if (newState === "generating") {
      status.className = "";
      status.textContent = "";
    }
  }

  function onFrame(frame) {
    if (frame.t === "state") { setState(frame.state, frame.message); return; }
    const a = entry(frame.turn, frame.side);
    if (frame.t === "snapshot") {
      if (frame.next >= a.next) { a.text = frame.text; a.next = frame.next; }
    } else if (frame.t === "chunk") {
      if (frame.seq < a.next) return;
      a.text += frame.text; a.next = frame.seq + 1;
    } else if (frame.t === "done") {
      a.html = frame.html;
    } else if (frame.t === "failed") {
      a.failed = frame.message;
    }
    draw(frame.turn, frame.side);
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (socket) {
      // Replaced: whatever the old socket still says is in the new one's snapshot.
      socket.onmessage = null; socket.onclose = null;
      if (socket.readyState <= 1) socket.close();
    }
    lastHeard = Date.now();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${battle.dataset.ws}`);
    socket.onmessage = (event) => { lastHeard = Date.now(); onFrame(JSON.parse(event.data)); };
    socket.onopen = () => { retries = 0; lastHeard = Date.now(); };
    socket.onclose = (event) => {
      if (event.code === 4403) { forbidden = true; return; }
      // Reconnect while answers may still come; the server resends what was missed.
      if (state === "generating" && retries < 5) {
        retries += 1;
        reconnectTimer = setTimeout(connect, 500 * retries);
      }
    };
  }

  // The watchdog: also starts over after the five quick retries gave up (a server away for longer).
  function watch() {
    if (state === "generating" && !forbidden && !reconnectTimer && Date.now() - lastHeard >= quietMs()) {
      retries = 0;
      connect();
    }
    setTimeout(watch, Math.min(1000, quietMs()));
  }

  document.body.addEventListener("htmx:afterSwap", () => {
    Object.keys(answers).forEach((key) => { const [t, s] = key.split("-"); draw(t, s); });
  });
  // The state before a follow-up was sent: a refused one (any 4xx, whose message htmx swaps in, or a
  // failed request) puts it back, so the vote and the follow-up box work again at once.
  let beforeFollowup = null;
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "followup-form") {
      const error = document.getElementById("followup-error");
      if (error) error.textContent = "";
      beforeFollowup = state;
      setState("generating");
      if (!socket || socket.readyState > 1) connect();
    }
  });
  document.body.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (elt && elt.id === "followup-form") {
      const xhr = event.detail.xhr;
      if (event.detail.successful && xhr && xhr.status < 400) {
        elt.reset();
      } else if (state === "generating" && beforeFollowup) {
        setState(beforeFollowup);
      }
      beforeFollowup = null;
    }
  });

  // Keyboard voting: 1 / 2 / t / x (or a / b) when no text field has the focus.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = (event.target.tagName || "").toLowerCase();
    if (tag === "textarea" || tag === "input" || tag === "select") {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const keys = { "1": "a", a: "a", "2": "b", b: "b", t: "tie", "0": "tie", x: "both_bad" };
    const choice = keys[event.key];
    if (choice && state === "ready") {
      const button = document.querySelector(`#vote-form button[name=choice][value=${choice}]`);
      if (button && !button.disabled) { event.preventDefault(); button.click(); }
    } else if (event.key === "n") {
      const again = document.getElementById("new-battle");
      if (again) { event.preventDefault(); again.click(); }
    }
  });

  // A failed battle may still have the other side writing: its text is still the visitor's to read.
  const open = document.querySelector("article.answer[data-state=queued], article.answer[data-state=generating]");
  if (state === "generating" || state === "ready" || (state === "failed" && open)) connect();
  watch();
})();
