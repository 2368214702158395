// The create page: choosing a model sets its defaults (steps, guidance, sizes, samplers); the prompt box names the
// words the chosen model does not know while someone types; the guide's chips and examples fill the prompt;
// Ctrl+Enter (or Cmd+Enter) generates. Without JavaScript the form still works: the server names the words.
(function () {
  "use strict";
  const form = document.getElementById("prompt-form");
  if (!form) return;
  const prompt = form.querySelector("#id_prompt");
  const negative = form.querySelector("#id_negative_prompt");
  const model = form.querySelector("#id_model");
  const hint = document.getElementById("prompt-hint");
  const WORD = /[a-z0-9]+(?:'[a-z]+)?/g;

  function chosen() {
    return model && model.options.length ? model.options[model.selectedIndex] : null;
  }

  function parse(option, name) {
    try { return JSON.parse(option.dataset[name] || "[]"); } catch (e) { return []; }
  }

  function unknownWords(text, known) {
    if (!known.size) return [];
    const words = (text.toLowerCase().match(WORD) || []).filter((w) => !known.has(w));
    return [...new Set(words)];
  }

  function showHint() {
    const option = chosen();
    if (!option || !hint) return;
    const known = new Set(parse(option, "words"));
    const words = unknownWords(prompt.value + " " + (negative ? negative.value : ""), known);
    hint.classList.toggle("warn-text", words.length > 0);
    hint.textContent = words.length
      ? "Not words this model knows: " + words.map((w) => "“" + w + "”").join(", ") +
        ". They will not change what it draws; the guide below lists the words it does."
      : "";
  }

  function applyModel(setDefaults) {
    const option = chosen();
    if (!option) return;
    const sizes = new Set(parse(option, "sizes"));
    const samplers = new Set(parse(option, "samplers"));
    const size = form.querySelector("#id_size");
    const sampler = form.querySelector("#id_sampler");
    if (size) {
      for (const o of size.options) o.disabled = sizes.size > 0 && !sizes.has(o.value);
      if (size.selectedOptions[0] && size.selectedOptions[0].disabled) size.value = [...sizes][0];
    }
    if (sampler) {
      for (const o of sampler.options) o.disabled = o.value !== "" && !samplers.has(o.value);
      if (sampler.selectedOptions[0] && sampler.selectedOptions[0].disabled) sampler.value = "";
      const field = sampler.closest("label");
      if (field) field.hidden = samplers.size === 0;  // a one-pass model has no sampler to choose
    }
    if (setDefaults) {
      form.querySelector("#id_steps").value = option.dataset.steps;
      form.querySelector("#id_guidance").value = option.dataset.guidance;
    }
    showHint();
  }

  function insertAtCursor(text) {
    const start = prompt.selectionStart ?? prompt.value.length;
    const end = prompt.selectionEnd ?? prompt.value.length;
    const before = prompt.value.slice(0, start);
    const glue = before && !/\s$/.test(before) ? " " : "";
    prompt.value = before + glue + text + prompt.value.slice(end);
    const cursor = (before + glue + text).length;
    prompt.focus();
    prompt.setSelectionRange(cursor, cursor);
    showHint();
  }

  if (model) model.addEventListener("change", () => applyModel(true));
  prompt.addEventListener("input", showHint);
  if (negative) negative.addEventListener("input", showHint);
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.querySelectorAll("[data-insert]").forEach((chip) =>
    chip.addEventListener("click", () => insertAtCursor(chip.dataset.insert)));
  document.querySelectorAll("[data-example]").forEach((example) =>
    example.addEventListener("click", () => {
      prompt.value = example.dataset.example;
      prompt.focus();
      showHint();
    }));
  applyModel(false);
})();
