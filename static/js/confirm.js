// Forms marked data-confirm="question" ask before they submit (a listener, not an inline handler: the CSP allows
// no inline script).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
