// The header's menu on narrow screens, loaded in <head> before the page is drawn (a file: the
// Content-Security-Policy allows no inline script). The class it sets on <html> lets
// store.css fold the links from the first paint; it is set last, once the button works, so
// where this file does not load or run the links stay in view. It needs nothing else:
// store.js failing leaves the menu working.

document.addEventListener("click", function (event) {
  var toggle = event.target.closest(".nav-toggle");
  if (toggle) {
    var open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("site-nav--open", open);
  }
});

document.addEventListener("keydown", function (event) {
  var toggle = document.querySelector(".nav-toggle[aria-expanded='true']");
  if (event.key === "Escape" && toggle) {
    toggle.click();
    toggle.focus();
  }
});

document.documentElement.classList.add("menu-folds");
