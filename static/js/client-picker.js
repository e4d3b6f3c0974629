// The client picker: clicking a suggestion fills the hidden id (or opens the client).
document.addEventListener("click", (event) => {
  const option = event.target.closest("[data-picker-value]");
  if (!option) return;
  const picker = option.closest("[data-client-picker]");
  if (!picker) return;
  if (picker.hasAttribute("data-picker-navigate")) {
    window.location.href = option.dataset.pickerUrl;
    return;
  }
  picker.querySelector("[data-picker-input]").value = option.dataset.pickerValue;
  const search = picker.querySelector("[data-picker-search]");
  search.value = option.dataset.pickerLabel;
  search.setAttribute("aria-expanded", "false");
  picker.querySelector("[data-picker-results]").innerHTML = "";
});
document.addEventListener("htmx:afterSwap", (event) => {
  const picker = event.target.closest && event.target.closest("[data-client-picker]");
  if (picker) {
    picker.querySelector("[data-picker-search]").setAttribute("aria-expanded", "true");
  }
});
// The search box sends what is typed as `q` (set here: the Content-Security-Policy allows no
// `hx-vals="js:..."`, which htmx would evaluate as code).
document.addEventListener("htmx:configRequest", (event) => {
  const search = event.detail.elt;
  if (search && search.hasAttribute && search.hasAttribute("data-picker-search")) {
    event.detail.parameters.q = search.value;
  }
});
