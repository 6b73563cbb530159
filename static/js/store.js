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
  if (status === 400) {
    return "The shop could not understand that request; this page may be out of date. Reload the page and try again.";
  }
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

document.addEventListener("htmx:timeout", function () {
  storeToast("The shop took too long to answer. Check your connection and try again.", "error");
});

// Whatever the response handling says, an error page never lands in a fragment.
document.addEventListener("htmx:beforeSwap", function (event) {
  if (event.detail.xhr.status >= 400) {
    event.detail.shouldSwap = false;
    event.detail.isError = true;
  }
});

// Polling that backs off. A polling element's hx-trigger ("every 1s") is the tick; its
// data-poll-backoff lists the seconds between requests ("1 2 5 15"): each poll that finds
// nothing new (204) or fails waits for the next step, up to the last; a poll that brings news
// swaps in a new element, which starts again at the first. data-poll-status names the element
// that says "Reconnecting…" while polls fail.
var storePolls = new WeakMap();

function storePoll(elt) {
  var poll = storePolls.get(elt);
  if (!poll) {
    poll = {step: 0, due: 0};
    storePolls.set(elt, poll);
  }
  return poll;
}

function storePolling(event) {
  var elt = event.detail.elt;
  // After a swap the element is out of the page and htmx tells its parent instead: same detail.
  return elt.hasAttribute("data-poll-backoff") && event.detail.requestConfig &&
    event.detail.requestConfig.verb === "get";
}

document.addEventListener("htmx:beforeRequest", function (event) {
  if (storePolling(event) && Date.now() < storePoll(event.detail.elt).due) {
    event.preventDefault();  // not due yet: this tick sends nothing
  }
});

document.addEventListener("htmx:afterRequest", function (event) {
  if (!storePolling(event)) {
    return;
  }
  var elt = event.detail.elt;
  var steps = elt.getAttribute("data-poll-backoff").split(" ").map(Number);
  var poll = storePoll(elt);
  var ok = event.detail.successful === true;
  if (!ok || event.detail.xhr.status === 204) {
    poll.step = Math.min(poll.step + 1, steps.length - 1);
  } else {
    poll.step = 0;
  }
  poll.due = Date.now() + steps[poll.step] * 1000 - 500;  // half a tick early: the next tick at that step sends
  var status = document.getElementById(elt.getAttribute("data-poll-status") || "");
  if (status) {
    status.textContent = ok ? "" : "Reconnecting\u2026 This page updates by itself once the shop answers.";
  }
});

// --- toasts leave by themselves ---------------------------------------------------------------
// Errors and warnings (what changed in the cart, what was left out) stay longer than news; a toast
// under the pointer or holding focus waits (checked each tick).
var TOAST_SECONDS = { error: 12, warning: 12 };
var TOAST_DEFAULT_SECONDS = 5;

function storeToastTimer(toast) {
  if (toast.dataset.timer) {
    return;
  }
  var level = (toast.className.match(/toast--(\w+)/) || [])[1];
  var left = (TOAST_SECONDS[level] || TOAST_DEFAULT_SECONDS) * 1000;
  var tick = 250;
  toast.dataset.timer = "on";
  var timer = setInterval(function () {
    if (!toast.isConnected) {
      clearInterval(timer);
      return;
    }
    if (toast.matches(":hover") || toast.contains(document.activeElement)) {
      return;
    }
    left -= tick;
    if (left <= 0) {
      clearInterval(timer);
      toast.remove();
    }
  }, tick);
}

function storeWatchToasts() {
  var region = document.getElementById("toasts");
  if (!region) {
    return;
  }
  region.querySelectorAll(".toast").forEach(storeToastTimer);
  new MutationObserver(function () {
    region.querySelectorAll(".toast").forEach(storeToastTimer);
  }).observe(region, { childList: true });
}

// --- back/forward: the filter form says what the URL says, the cart badge is fresh ------------
// Browsers restore form fields from their own memory, which can disagree with the URL htmx pushed.
function storeFiltersFromUrl() {
  var form = document.querySelector("form.filters");
  if (!form) {
    return;
  }
  var params = new URLSearchParams(location.search);
  ["q", "category"].forEach(function (name) {
    var field = form.elements[name];
    if (field) {
      field.value = params.get(name) || "";
    }
  });
}

// Empty filters stay out of the request, so the URL pushed for the history reads "?category=x", not "&q=".
document.addEventListener("htmx:configRequest", function (event) {
  if (!event.detail.elt.matches("form.filters")) {
    return;
  }
  ["q", "category"].forEach(function (name) {
    if (!event.detail.parameters[name]) {
      delete event.detail.parameters[name];
    }
  });
});

function storeRefreshCartBadge() {
  var link = document.querySelector("[data-cart-badge]");
  if (link && window.htmx) {
    htmx.ajax("GET", link.getAttribute("data-cart-badge"), { source: link, swap: "none" });
  }
}

window.addEventListener("pageshow", function (event) {
  var navigation = performance.getEntriesByType("navigation")[0];
  if (event.persisted || (navigation && navigation.type === "back_forward")) {
    storeFiltersFromUrl();
    storeRefreshCartBadge();
  }
});

document.addEventListener("htmx:historyRestore", function () {
  storeFiltersFromUrl();
  storeRefreshCartBadge();
});

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", storeWatchToasts);
} else {
  storeWatchToasts();
}

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

// Only a request that submits the form (sent by the form or its button): checkout's shipping
// options, asked for from within the form as the address changes, leave Place order alone.
function storeSubmitting(event) {
  var elt = event.detail.elt;
  return elt.matches && elt.matches("form, button") ? elt.closest("form") : null;
}

document.addEventListener("htmx:beforeRequest", function (event) {
  var form = storeSubmitting(event);
  if (form && form.querySelector("button[data-busy-label]")) {
    storeBusy(form);
  }
});

document.addEventListener("htmx:afterRequest", function (event) {
  var form = storeSubmitting(event);
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
// "Use this address" button reloads the page with it), and the shipping options follow: a
// change event asks for them as typing would (the fields' values set by script fire none).
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
  var zip = document.getElementById("id_zip");
  if (zip) {
    zip.dispatchEvent(new Event("change", {bubbles: true}));
  }
});

// Checkout's shipping options while they are asked for again: the fieldset says "Updating
// shipping options…" (aria-busy) and Place order waits, its reason the same text, since the total
// it shows may be about to change. A request that fails leaves the options shown with a sentence
// saying so: the order's submit checks the chosen option again anyway.
function storeShippingParts(event) {
  var elt = event.detail.elt;
  if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-shipping-options")) {
    return null;
  }
  var form = elt.closest("form");
  return {
    fieldset: document.getElementById("shipping-options"),
    busy: document.getElementById("shipping-options-busy"),
    failed: document.getElementById("shipping-options-failed"),
    button: form && form.querySelector("button[data-busy-label]")
  };
}

function storeShippingIdle(parts) {
  if (parts.fieldset) {
    parts.fieldset.removeAttribute("aria-busy");
  }
  if (parts.busy) {
    parts.busy.hidden = true;
  }
  if (parts.button && parts.button.getAttribute("aria-describedby") === "shipping-options-busy") {
    parts.button.removeAttribute("aria-describedby");
    parts.button.disabled = false;
  }
}

document.addEventListener("htmx:beforeRequest", function (event) {
  var parts = storeShippingParts(event);
  if (!parts || event.defaultPrevented) {
    return;
  }
  if (parts.fieldset) {
    parts.fieldset.setAttribute("aria-busy", "true");
  }
  if (parts.busy) {
    parts.busy.hidden = false;
  }
  if (parts.failed) {
    parts.failed.hidden = true;
  }
  if (parts.button && !parts.button.disabled) {
    parts.button.disabled = true;
    parts.button.setAttribute("aria-describedby", "shipping-options-busy");
  }
});

document.addEventListener("htmx:afterRequest", function (event) {
  var parts = storeShippingParts(event);
  if (parts) {
    storeShippingIdle(parts);
  }
});

["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
  document.addEventListener(name, function (event) {
    var parts = storeShippingParts(event);
    if (parts && parts.failed) {
      storeShippingIdle(parts);
      parts.failed.hidden = false;
    }
  });
});
