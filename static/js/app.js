// htmx requests carry the CSRF token from the <meta> tag (Flask-WTF reads X-CSRFToken).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
});

// "Select all" checkboxes: <input type="checkbox" data-select-all="name">.
document.addEventListener("change", function (event) {
  var name = event.target.getAttribute && event.target.getAttribute("data-select-all");
  if (!name) { return; }
  document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (box) {
    box.checked = event.target.checked;
  });
});

// Elements with data-print open the print dialog (no inline scripts: the CSP forbids them).
document.addEventListener("DOMContentLoaded", function () {
  if (document.body.hasAttribute("data-autoprint")) { window.print(); }
});

// A PDF in an <iframe data-print-on-load> opens the print dialog once it has loaded.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("iframe[data-print-on-load]").forEach(function (frame) {
    frame.addEventListener("load", function () {
      try { frame.contentWindow.focus(); frame.contentWindow.print(); } catch (e) { window.print(); }
    });
  });
});
