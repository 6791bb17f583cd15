// The definition editor's live preview: as the administrator types, the text is posted (at most every half second
// of quiet) to /admin/procedures/preview, whose fragment (the problems, the eForm, the step graph) replaces the
// page's parts of the same id. Without this script the "Xem trước" button shows the same through a whole page.
(function () {
  "use strict";
  var area = document.getElementById("f-definition");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (!area || !window.fetch || !window.URLSearchParams) { return; }
  var language = new URLSearchParams(window.location.search).get("lang");
  var address = "/admin/procedures/preview" + (language ? "?lang=" + encodeURIComponent(language) : "");
  var timer = null;
  var asked = 0;

  function swap(html, ticket) {
    if (ticket !== asked) { return; }  // a later text was sent meanwhile: its answer is the one to show
    var holder = document.createElement("template");
    holder.innerHTML = html;
    holder.content.querySelectorAll("[data-preview-part]").forEach(function (part) {
      var old = document.getElementById(part.id);
      if (old) { old.replaceWith(part); }
    });
    var invalid = !!document.getElementById("error-summary");
    area.setAttribute("aria-invalid", invalid ? "true" : "false");
    document.body.setAttribute("data-preview", String(ticket));
  }

  function send() {
    asked += 1;
    var ticket = asked;
    fetch(address, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf ? csrf.content : "", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ definition: area.value }).toString()
    }).then(function (response) {
      return response.ok ? response.text() : null;
    }).then(function (html) {
      if (html !== null) { swap(html, ticket); }
    }).catch(function () { /* the page still works by its buttons */ });
  }

  // A line listed with an error, when the page shows no copy of the text to go to: select it in the editor.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('#definition-errors a[href^="#line-"]');
    if (!link || document.getElementById(link.getAttribute("href").slice(1))) { return; }
    event.preventDefault();
    var wanted = parseInt(link.getAttribute("href").slice(6), 10);
    var lines = area.value.split("\n");
    var start = lines.slice(0, wanted - 1).join("\n").length + (wanted > 1 ? 1 : 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[wanted - 1] || "").length);
  });

  area.addEventListener("input", function () {
    if (timer) { window.clearTimeout(timer); }
    timer = window.setTimeout(send, 500);
  });
})();
