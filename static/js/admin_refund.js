// The admin order page's refund form (backoffice.forms.RefundForm): the Amount follows the units
// chosen. Each quantity field carries its line's unit price (data-unit-price, USD); with units
// chosen the amount becomes their price (plus the shipping when "Also refund shipping", which
// carries data-shipping-price, is ticked), with none it goes back to what the page proposed (all
// that is left to refund). Staff may lower it afterwards. Without this script the server
// computes the same amount, and the confirmation page shows it before anything is refunded.
// Loaded as a file: the Content-Security-Policy allows no inline script.
(function () {
  function cents(text) {
    var parts = String(text).trim().split(".");
    var whole = parseInt(parts[0] || "0", 10);
    var fraction = parseInt(((parts[1] || "") + "00").slice(0, 2), 10);
    return whole * 100 + fraction;  // prices are USD with two decimals: whole cents, no float sums
  }

  function amountText(total) {
    var fraction = String(total % 100);
    return Math.floor(total / 100) + "." + (fraction.length < 2 ? "0" + fraction : fraction);
  }

  function follow(form) {
    if (!form) {
      return;
    }
    var amount = form.querySelector("input[name='amount']");
    var proposed = form.querySelector("input[name='initial-amount']");
    if (!amount || !proposed) {
      return;
    }
    var total = 0;
    var chosen = false;
    form.querySelectorAll("input[data-unit-price]").forEach(function (field) {
      var units = parseInt(field.value, 10);
      if (units > 0) {
        chosen = true;
        total += cents(field.dataset.unitPrice) * units;
      }
    });
    var shipping = form.querySelector("input[data-shipping-price]");
    if (shipping && shipping.checked) {
      chosen = true;
      total += cents(shipping.dataset.shippingPrice);
    }
    amount.value = chosen ? amountText(total) : proposed.value;
  }

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.matches && field.matches("input[data-unit-price], input[data-shipping-price]")) {
      follow(field.closest("form[data-refund-form]"));
    }
  });
})();
