// The open leaderboard keeps itself current without polling: it listens on its board's socket
// (ratings/consumers.py). A fit queued or landed swaps the board part in anew, a fit's progress moves
// its bar, and each vote adds to the count "since" the fit shown. A lost socket reconnects, and its
// first frame (a snapshot) refreshes the page if a fit landed meanwhile.
(function () {
  "use strict";

  const board = () => document.getElementById("board");
  if (!board() || !window.WebSocket) return;
  let retry = 1000;
  let refreshing = false;
  let pending = false;
  const heardOf = new Set(); // runs whose progress already made the page refresh

  // One refresh at a time: news arriving meanwhile asks for one more, after it.
  function refresh() {
    if (refreshing) {
      pending = true;
      return;
    }
    refreshing = true;
    htmx
      .ajax("GET", `${board().dataset.page}&partial=board`, { target: "#board", swap: "outerHTML" })
      .finally(() => {
        refreshing = false;
        if (pending) {
          pending = false;
          refresh();
        }
      });
  }

  function addVotes(count) {
    const since = document.getElementById("votes-since");
    if (!since) return;
    const total = Number(since.dataset.count) + count;
    since.dataset.count = String(total);
    since.textContent = `${total} vote${total === 1 ? "" : "s"} since.`;
  }

  function setVotes(total) {
    const since = document.getElementById("votes-since");
    if (since) addVotes(total - Number(since.dataset.count));
  }

  function hear(news) {
    const shown = board().dataset;
    if (news.event === "snapshot") {
      if (String(news.run ?? "") !== shown.run || String(news.in_flight ?? "") !== shown.inFlight) refresh();
      else setVotes(news.votes_since);
    } else if (news.event === "votes") {
      addVotes(news.count);
    } else if (news.event === "progress") {
      const bar = document.getElementById("fit-progress");
      if (bar && String(news.run) === shown.inFlight) bar.value = Math.round(news.progress * 100);
      else if (String(news.run) !== shown.inFlight && !heardOf.has(news.run)) {
        heardOf.add(news.run); // a run the page missed the start of: refresh once, not at every step
        refresh();
      }
    } else if (news.event === "queued" || news.event === "fitted") {
      refresh();
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${board().dataset.socket}`);
    socket.addEventListener("open", () => {
      retry = 1000;
      document.body.dataset.leaderboardSocket = "open";
    });
    socket.addEventListener("message", (event) => hear(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      document.body.dataset.leaderboardSocket = "closed";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  connect();
})();
