// The image page's attention overlay: a row of word chips; choosing a word paints where that word of the prompt
// attended (its heat map, stretched to its own range) over the image in the inferno colormap, brighter and more
// opaque where it attended more; "none" hides it. The maps come from /api/images/<id>/attention/ as one grayscale PNG sprite
// (word i in rows i*height..(i+1)*height). Keyboard: Tab to the chips, arrows/Home/End move, Escape hides.
(function () {
  "use strict";
  const root = document.getElementById("attention");
  const canvas = document.getElementById("heatmap");
  if (!root || !canvas) return;
  const chips = Array.from(root.querySelectorAll(".chip"));
  const status = document.getElementById("attention-status");
  // matplotlib's inferno (perceptually uniform), 17 stops from 0 to 1
  const INFERNO = [
    [0, 0, 4], [11, 7, 36], [33, 12, 74], [61, 9, 101], [87, 16, 110], [113, 25, 110], [138, 34, 106],
    [163, 44, 97], [188, 55, 84], [210, 70, 68], [228, 90, 49], [241, 115, 29], [249, 142, 9], [252, 172, 17],
    [249, 203, 53], [242, 234, 105], [252, 255, 164],
  ];
  let maps = null;

  function colormap(v) {
    const x = Math.max(0, Math.min(1, v)) * (INFERNO.length - 1);
    const i = Math.min(Math.floor(x), INFERNO.length - 2), f = x - i;
    const a = INFERNO[i], b = INFERNO[i + 1];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
  }

  function load() {
    return fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then((data) => new Promise((resolve, reject) => {
        const sprite = new Image();
        sprite.onload = () => {
          const scratch = document.createElement("canvas");
          scratch.width = sprite.width;
          scratch.height = sprite.height;
          const context = scratch.getContext("2d");
          context.drawImage(sprite, 0, 0);
          data.gray = context.getImageData(0, 0, sprite.width, sprite.height).data; // RGBA, R = G = B = value
          resolve(data);
        };
        sprite.onerror = () => reject(new Error("the attention maps did not decode"));
        sprite.src = data.maps;
      }));
  }
  const ready = load().then((data) => (maps = data));

  function paint(index) {
    const { width, height, gray } = maps;
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    const out = context.createImageData(width, height);
    const offset = index * width * height * 4;
    // a word's map peaks at 1 but rarely falls to 0 (attention is spread over the whole image): stretch its own
    // range to 0..1 for display, so that where the word looked most stands out from where it looked least
    let low = 255, high = 0;
    for (let p = 0; p < width * height; p++) {
      low = Math.min(low, gray[offset + p * 4]);
      high = Math.max(high, gray[offset + p * 4]);
    }
    const span = Math.max(1, high - low);
    for (let p = 0; p < width * height; p++) {
      const v = (gray[offset + p * 4] - low) / span;
      const [r, g, b] = colormap(v);
      out.data[p * 4] = r;
      out.data[p * 4 + 1] = g;
      out.data[p * 4 + 2] = b;
      out.data[p * 4 + 3] = 255 * (0.15 + 0.7 * v); // the image shows through where the word looked least
    }
    context.putImageData(out, 0, 0);
  }

  function select(chip) {
    const index = Number(chip.dataset.index);
    chips.forEach((c) => c.setAttribute("aria-pressed", String(c === chip)));
    if (index < 0) {
      canvas.hidden = true;
      root.dataset.shown = "";
      status.textContent = "";
      return;
    }
    const word = chip.textContent;
    ready.then(() => {
      if (chip.getAttribute("aria-pressed") !== "true") return; // another chip was chosen meanwhile
      paint(index);
      canvas.setAttribute("aria-label", "heat map of the word \u201c" + word + "\u201d over the image");
      canvas.hidden = false;
      root.dataset.shown = word;
      status.textContent = "Showing where \u201c" + word + "\u201d attended (bright: most).";
    }).catch((error) => {
      status.textContent = "The attention maps could not be loaded (" + error.message + ").";
    });
  }

  chips.forEach((chip) => chip.addEventListener("click", () => select(chip)));
  root.addEventListener("keydown", (event) => {
    const at = chips.indexOf(document.activeElement);
    if (at < 0) return;
    const moves = { ArrowRight: at + 1, ArrowDown: at + 1, ArrowLeft: at - 1, ArrowUp: at - 1, Home: 0, End: chips.length - 1 };
    let next = null;
    if (event.key in moves) next = chips[(moves[event.key] + chips.length) % chips.length];
    else if (event.key === "Escape") next = chips[0];
    if (next === null) return;
    event.preventDefault();
    next.focus();
    select(next);
  });
})();
