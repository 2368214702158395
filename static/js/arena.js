// The arena page: follow /ws/arena/<id>/ while the pair is painted (one bar for the pair, no model named),
// then show both images and open the vote. If the socket cannot connect, poll the match's state instead.
// Keys A, B and T vote once the pair is ready.
(function () {
  "use strict";
  const root = document.getElementById("arena");
  if (!root || !root.dataset.matchId) return;
  const matchId = root.dataset.matchId;
  const el = (id) => document.getElementById(id);
  const bar = el("arena-bar"), fill = el("arena-fill"), text = el("arena-progress-text"), eta = el("arena-eta");
  const progress = el("arena-progress"), failed = el("arena-failed"), errorEl = el("arena-error");
  const buttons = { a: el("vote-left"), b: el("vote-right"), t: el("vote-tie") };
  let finished = false, pollTimer = null, loaded = false;

  function setPercent(percent) {
    const p = Math.max(0, Math.min(100, percent));
    fill.style.width = p + "%";
    bar.setAttribute("aria-valuenow", String(Math.round(p)));
  }
  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 1) return "almost done";
    return "about " + (seconds < 60 ? Math.ceil(seconds) + " s" : Math.ceil(seconds / 60) + " min") + " left";
  }
  function showImage(side, url) {
    const slot = el("image-" + side);
    if (slot.tagName === "IMG") return;
    const img = document.createElement("img");
    img.className = "pixel";
    img.id = "image-" + side;
    img.src = url;
    img.alt = "image " + side.toUpperCase();
    img.width = 64;
    img.height = 64;
    slot.replaceWith(img);
  }
  function finish() {
    finished = true;
    if (pollTimer) clearInterval(pollTimer);
  }

  function handle(event) {
    if (String(event.match) !== matchId) return;
    switch (event.type) {
      case "rendering":
        break;
      case "progress":
        root.dataset.status = "rendering";
        setPercent(event.percent);
        text.textContent = "Painting image " + event.side.toUpperCase() + "… " + Math.round(event.percent) + "%";
        eta.textContent = formatEta(event.eta_s);
        break;
      case "ready":
        setPercent(100);
        showImage("a", event.images.a);
        showImage("b", event.images.b);
        Object.values(buttons).forEach((button) => { button.disabled = false; });
        progress.hidden = true;
        root.dataset.status = "ready";
        if (loaded) buttons.a.focus({ preventScroll: true });  // painted while the page watched: vote from here
        finish();
        break;
      case "failed":
        progress.hidden = true;
        el("arena-vote").hidden = true;
        errorEl.textContent = event.error || "The pair could not be painted.";
        failed.hidden = false;
        root.dataset.status = "failed";
        finish();
        break;
    }
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.target.closest("input, textarea, select")) return;
    const button = buttons[event.key.toLowerCase()];
    if (button && !button.disabled) {
      event.preventDefault();
      button.click();
    }
  });

  // fallback: the same state, one request a second
  function poll() {
    if (pollTimer || finished) return;
    pollTimer = setInterval(async () => {
      const response = await fetch(root.dataset.stateUrl, { credentials: "same-origin" });
      if (response.ok) handle(await response.json());
    }, 1000);
  }

  handle(JSON.parse(el("arena-state").textContent));
  loaded = true;
  if (finished) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/arena/" + matchId + "/");
  socket.onopen = () => { root.dataset.socket = "open"; };
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = () => { if (!finished) poll(); };
})();
