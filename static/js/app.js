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
