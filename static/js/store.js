// The storefront's own behaviour, loaded as a file: the Content-Security-Policy allows no
// inline or evaluated script.

// A toast's close button removes it (toasts arrive in the page and in HTMX responses).
document.addEventListener("click", function (event) {
  var button = event.target.closest(".toast__close");
  if (button) {
    button.closest(".toast").remove();
  }
});

// An HTMX request that fails swaps nothing (htmx leaves error responses alone); a toast says
// what happened and what to do. A session that ended is sent to the sign-in page by the server
// (HX-Redirect), so it never lands here.
function storeToast(text, level) {
  var region = document.getElementById("toasts");
  if (!region) {
    return;
  }
  var shown = region.querySelectorAll(".toast p");
  for (var i = 0; i < shown.length; i++) {
    if (shown[i].textContent === text) {
      return;  // once: a polling fragment would repeat it every second
    }
  }
  var toast = document.createElement("div");
  toast.className = "toast toast--" + level;
  toast.setAttribute("role", "alert");
  var message = document.createElement("p");
  message.textContent = text;
  var close = document.createElement("button");
  close.type = "button";
  close.className = "toast__close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "\u00d7";
  toast.appendChild(message);
  toast.appendChild(close);
  region.appendChild(toast);
}

function storeWait(xhr) {
  var seconds = parseInt(xhr.getResponseHeader("Retry-After") || "", 10);
  if (!(seconds > 0)) {
    return "a moment";
  }
  return seconds === 1 ? "1 second" : (seconds < 120 ? seconds + " seconds" : Math.ceil(seconds / 60) + " minutes");
}

function storeFailureText(xhr) {
  var status = xhr.status;
  if (status === 403) {
    return "This page is out of date (you may have signed in or out in another tab). Reload the page and try again.";
  }
  if (status === 404) {
    return "That is no longer available. Reload the page to see what is.";
  }
  if (status === 429) {
    return "Too many requests. Wait " + storeWait(xhr) + " and try again.";
  }
  if (status === 503) {
    return "The shop cannot do that right now. Try again in " + storeWait(xhr) + ".";
  }
  if (status >= 500) {
    return "Something went wrong on our side. Reload the page and try again.";
  }
  return "That could not be done. Reload the page and try again.";
}

document.addEventListener("htmx:responseError", function (event) {
  storeToast(storeFailureText(event.detail.xhr), "error");
});

document.addEventListener("htmx:sendError", function () {
  storeToast("The shop could not be reached. Check your connection and try again.", "error");
});

// A form that failed shows "There is a problem" above it (templates/partials/error_summary.html):
// focus moves there (its autofocus does it too, without this script) and each of its links moves
// focus to the field it names, not only the scroll position.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary && document.activeElement !== summary) {
    summary.focus();
  }
});

document.addEventListener("click", function (event) {
  var link = event.target.closest(".error-summary a[href^='#']");
  var field = link && document.getElementById(link.getAttribute("href").slice(1));
  if (field) {
    event.preventDefault();
    field.focus();
    field.scrollIntoView({block: "center"});
  }
});

// A submit button with data-busy-label (checkout's Place order) says so while the request runs
// and cannot be pressed again: one press, one request. (The server side is idempotent too.)
function storeBusy(form) {
  var button = form.querySelector("button[data-busy-label]");
  if (!button) {
    return;
  }
  button.dataset.idleLabel = button.dataset.idleLabel || button.textContent;
  button.textContent = button.dataset.busyLabel;
  button.disabled = true;
  form.setAttribute("aria-busy", "true");
}

function storeIdle(form) {
  var button = form.querySelector("button[data-busy-label]");
  if (button && button.dataset.idleLabel) {
    button.textContent = button.dataset.idleLabel;
    button.disabled = false;
  }
  form.removeAttribute("aria-busy");
}

document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.querySelector("button[data-busy-label]") || form.hasAttribute("hx-post")) {
    return;  // an HTMX form is handled on htmx:beforeRequest below
  }
  if (form.getAttribute("aria-busy") === "true") {
    event.preventDefault();  // pressing Enter again while the order is being placed
    return;
  }
  storeBusy(form);  // disabled after the submit event started: the browser still sends the form
});

document.addEventListener("htmx:beforeRequest", function (event) {
  var form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (form && form.querySelector("button[data-busy-label]")) {
    storeBusy(form);
  }
});

document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail.elt.closest && event.detail.elt.closest("form");
  if (form) {
    storeIdle(form);
  }
});

// Back to a page from the browser's cache: its buttons are usable again.
window.addEventListener("pageshow", function (event) {
  if (event.persisted) {
    document.querySelectorAll("form[aria-busy='true']").forEach(storeIdle);
  }
});

// Checkout's saved addresses: choosing one fills the shipping fields (without JavaScript, the
// "Use this address" button reloads the page with it).
document.addEventListener("change", function (event) {
  var select = event.target.closest("[data-address-picker] select");
  var option = select && select.options[select.selectedIndex];
  if (!option || !option.value) {
    return;
  }
  ["address", "city", "state", "zip"].forEach(function (name) {
    var input = document.getElementById("id_" + name);
    if (input) {
      input.value = option.dataset[name] || "";
    }
  });
});
