// The job page: follow /ws/jobs/<id>/ and paint progress, ETA, the live preview, then the images.
// If the socket cannot connect, poll the REST API instead so the page still finishes.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const el = (id) => document.getElementById(id);
  const fill = el("progress-fill"), bar = el("progress"), text = el("progress-text");
  const stepText = el("progress-step"), etaText = el("progress-eta"), statusEl = el("job-status");
  const preview = el("preview"), placeholder = el("preview-placeholder"), results = el("results");
  const errorEl = el("job-error"), cancelForm = el("cancel-form");
  let finished = false, pollTimer = null;

  function setStatus(status) {
    statusEl.textContent = status;
    statusEl.className = "status " + status;
    root.dataset.status = status;
  }
  function setPercent(percent) {
    const p = Math.max(0, Math.min(100, percent));
    fill.style.width = p + "%";
    bar.setAttribute("aria-valuenow", String(Math.round(p)));
    text.textContent = Math.round(p) + "%";
  }
  function formatEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 1) return "almost done";
    return "about " + (seconds < 60 ? Math.ceil(seconds) + " s" : Math.ceil(seconds / 60) + " min") + " left";
  }
  function showImages(images) {
    results.innerHTML = "";
    images.forEach((image) => {
      const a = document.createElement("a");
      a.className = "result";
      a.href = image.page;
      const img = document.createElement("img");
      img.className = "pixel";
      img.src = image.url;
      img.alt = "seed " + image.seed;
      const span = document.createElement("span");
      span.textContent = "seed " + image.seed;
      a.append(img, span);
      results.append(a);
    });
  }
  function finish(status) {
    finished = true;
    setStatus(status);
    etaText.textContent = "";
    if (cancelForm) cancelForm.remove();
    if (pollTimer) clearInterval(pollTimer);
  }

  function handle(event) {
    if (String(event.job) !== jobId) return;
    switch (event.type) {
      case "queued":
        setStatus("queued");
        break;
      case "started":
        setStatus("running");
        placeholder.querySelector("p").textContent = "Starting...";
        break;
      case "progress":
        setStatus("running");
        setPercent(event.percent);
        stepText.textContent = "step " + event.step + " / " + event.total;
        etaText.textContent = formatEta(event.eta_s);
        if (event.preview) {
          preview.src = event.preview;
          preview.hidden = false;
          placeholder.hidden = true;
        }
        break;
      case "completed":
        setPercent(100);
        if (event.preview) {
          preview.src = event.preview;
          preview.hidden = false;
          placeholder.hidden = true;
        }
        showImages(event.images || []);
        finish("succeeded");
        break;
      case "failed":
      case "cancelled":
        if (event.error) { errorEl.textContent = event.error; errorEl.hidden = false; }
        finish(event.type);
        break;
    }
  }

  // REST fallback: the same state, one request a second.
  function poll() {
    if (pollTimer || finished) return;
    pollTimer = setInterval(async () => {
      const response = await fetch(root.dataset.apiUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const job = await response.json();
      setPercent(job.progress * 100);
      if (job.status === "succeeded") handle({ type: "completed", job: job.id, images: job.images });
      else if (job.status === "failed" || job.status === "cancelled") handle({ type: job.status, job: job.id, error: job.error });
      else setStatus(job.status);
    }, 1000);
  }

  setPercent(Number(bar.getAttribute("aria-valuenow")) || 0);  // no inline style: the CSP allows none
  const initial = JSON.parse(el("job-state").textContent);
  handle(initial);
  if (finished) return;
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/jobs/" + jobId + "/");
  socket.onopen = () => { root.dataset.socket = "open"; };
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = () => { if (!finished) poll(); };
})();
