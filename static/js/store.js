// The storefront's own behaviour, loaded as a file: the Content-Security-Policy allows no
// inline or evaluated script.

// A toast's close button removes it (toasts arrive in the page and in HTMX responses).
document.addEventListener("click", function (event) {
  var button = event.target.closest(".toast__close");
  if (button) {
    button.closest(".toast").remove();
  }
});
