// The job page: follow /ws/jobs/<id>/ and paint the queue position, progress, ETA and live preview, then the images.
// If the socket cannot connect, poll the REST API instead so the page still finishes. What shows in each state
// (preview while active, images when done) follows #job's data-status in the stylesheet.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const jobId = root.dataset.jobId;
  const el = (id) => document.getElementById(id);
  const fill = el("progress-fill"), bar = el("progress"), text = el("progress-text");
  const etaText = el("progress-eta"), statusEl = el("job-status"), phase = el("job-phase");
  const preview = el("preview"), placeholder = el("preview-placeholder");
  const errorEl = el("job-error");
  const numImages = Number(root.dataset.numImages) || 1, steps = Number(root.dataset.steps) || 1;
  const perCall = Number(root.dataset.batchImages) || numImages;
  const initialStatus = root.dataset.status;
  let finished = false, pollTimer = null, queueTimer = null;

  // Success and info messages describe the job as it was sent ("Queued..."): they go once it has moved on.
  // Errors stay (a refused "Vary seed" comes back here with its reason).
  function dropStaleMessages() {
    document.querySelectorAll(".toast.success, .toast.info").forEach((toast) => toast.remove());
    document.querySelectorAll(".toasts").forEach((box) => { if (!box.children.length) box.remove(); });
  }

  function setStatus(status) {
    if (status !== root.dataset.status) dropStaleMessages();
    statusEl.textContent = status;
    statusEl.className = "status " + status;
    root.dataset.status = status;
    if (status !== "queued" && queueTimer) { clearInterval(queueTimer); queueTimer = null; }
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
  function queueWords(position) {
    if (position === null || position === undefined) return "Waiting for a worker.";
    const ahead = position === 0 ? "Yours is next." : position + " job" + (position === 1 ? "" : "s") + " ahead of yours.";
    return "Waiting for a worker. " + ahead;
  }
  // A job's step counts image-steps: a call drawing r of its images at once moves it r a step, and its images are
  // drawn in order, at most perCall a call (generation/templatetags/studio_links.py images_at_step says the same).
  function stepWords(step) {
    let first = 0;
    for (;;) {
      const rows = Math.min(perCall, numImages - first);
      if (step <= (first + rows) * steps || first + rows >= numImages) {
        const within = Math.max(0, Math.min(steps, Math.round((step - first * steps) / rows)));
        const at = "step " + within + " of " + steps;
        if (numImages === 1) return at;
        const which = rows === 1 ? "image " + (first + 1) : "images " + (first + 1) + "-" + (first + rows);
        return which + " of " + numImages + ", " + at;
      }
      first += rows;
    }
  }
  function showPreview(src) {
    if (!src || !preview) return;  // a finished job's page has no preview
    preview.src = src;
    preview.hidden = false;
    placeholder.hidden = true;
  }
  function simpleCards(images) {
    const results = el("results");
    results.innerHTML = "";
    images.forEach((image) => {
      const figure = document.createElement("figure");
      figure.className = "job-result";
      const a = document.createElement("a");
      a.href = image.page;
      const img = document.createElement("img");
      img.className = "pixel";
      img.src = image.url;
      img.alt = "seed " + image.seed;
      a.append(img);
      const caption = document.createElement("figcaption");
      caption.textContent = "seed " + image.seed;
      figure.append(a, caption);
      results.append(figure);
    });
  }
  // The finished images with their actions (download, use settings, vary seed) are the server's to draw: take
  // them from a fresh copy of this page; if that fails, plain cards from the event still show the pictures.
  async function showImages(images) {
    try {
      const response = await fetch(location.pathname, { credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById("results");
      if (!fresh || !fresh.querySelector("img")) throw new Error("no images yet");
      el("results").replaceWith(document.adoptNode(fresh));
      const actions = page.getElementById("job-actions");
      if (actions) el("job-actions").replaceWith(document.adoptNode(actions));
    } catch (error) {
      simpleCards(images);
    }
  }
  function finish(status, words) {
    finished = true;
    setStatus(status);
    phase.textContent = words;
    etaText.textContent = "";
    const cancelForm = el("cancel-form");
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
        phase.textContent = "Starting.";
        if (placeholder) placeholder.querySelector("p").textContent = "Starting...";
        break;
      case "progress":
        setStatus("running");
        setPercent(event.percent);
        phase.textContent = event.step ? stepWords(event.step) : "Starting.";
        etaText.textContent = formatEta(event.eta_s);
        showPreview(event.preview);
        break;
      case "completed": {
        setPercent(100);
        showPreview(event.preview);
        const images = event.images || [];
        finish("succeeded", "Done: " + images.length + " image" + (images.length === 1 ? "" : "s") + ".");
        if (initialStatus !== "succeeded") showImages(images);
        break;
      }
      case "failed":
      case "cancelled":
        if (event.error) { errorEl.textContent = event.error; errorEl.hidden = false; }
        finish(event.type, event.type === "failed" ? "Failed." : "Cancelled.");
        break;
    }
  }

  async function fetchJob() {
    const response = await fetch(root.dataset.apiUrl, { credentials: "same-origin" });
    return response.ok ? response.json() : null;
  }
  function fromApi(job) {
    if (!job || finished) return;
    if (job.status === "succeeded") handle({ type: "completed", job: job.id, images: job.images });
    else if (job.status === "failed" || job.status === "cancelled") handle({ type: job.status, job: job.id, error: job.error });
    else if (job.status === "queued") { setStatus("queued"); phase.textContent = queueWords(job.queue_position); }
    else { setStatus(job.status); setPercent(job.progress * 100); }
  }
  // REST fallback: the same state, one request a second.
  function poll() {
    if (pollTimer || finished) return;
    pollTimer = setInterval(async () => fromApi(await fetchJob()), 1000);
  }
  // Other people's jobs starting move this one up the queue, and those events go to their pages, not this one:
  // while it waits, ask the API for its place every few seconds.
  function followQueue() {
    if (root.dataset.status !== "queued" || queueTimer) return;
    queueTimer = setInterval(async () => {
      const job = await fetchJob();
      if (job && job.status === "queued" && root.dataset.status === "queued") phase.textContent = queueWords(job.queue_position);
    }, 3000);
  }

  setPercent(Number(bar.getAttribute("aria-valuenow")) || 0);  // no inline style: the CSP allows none
  const initial = JSON.parse(el("job-state").textContent);
  handle(initial);
  if (finished) { dropStaleMessages(); return; }
  followQueue();
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/ws/jobs/" + jobId + "/");
  socket.onopen = () => { root.dataset.socket = "open"; };
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = () => { if (!finished) poll(); };
})();
