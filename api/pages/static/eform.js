// The eForm's attachments are uploaded as soon as they are chosen, with a progress bar (POST /attachments);
// the field then carries the file's descriptor and the form posts without the file. Without this script
// the form posts the files themselves, and the server keeps them the same way.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var texts = document.getElementById("eform-texts");
  var say = texts ? JSON.parse(texts.textContent) : {};
  var pending = 0;

  function submitButtons(form, disabled) {
    form.querySelectorAll('button[type="submit"]').forEach(function (button) { button.disabled = disabled; });
  }

  function fail(input, status, message) {
    var field = input.closest(".eform-field");
    var error = document.getElementById(input.id + "-error");
    if (!error) {
      error = document.createElement("p");
      error.className = "eform-error";
      error.id = input.id + "-error";
      status.insertAdjacentElement("afterend", error);
    }
    error.textContent = message;
    error.setAttribute("role", "alert");
    input.setAttribute("aria-invalid", "true");
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(error.id) < 0) { described.push(error.id); }
    input.setAttribute("aria-describedby", described.join(" "));
    if (field) { field.classList.add("eform-invalid"); }
  }

  function clear(input) {
    var error = document.getElementById(input.id + "-error");
    if (error) { error.remove(); }
    input.removeAttribute("aria-invalid");
    var field = input.closest(".eform-field");
    if (field) { field.classList.remove("eform-invalid"); }
  }

  function upload(input) {
    var form = input.form;
    var file = input.files && input.files[0];
    var descriptor = form.querySelector('input[data-descriptor-for="' + input.id + '"]');
    var progress = document.getElementById(input.id + "-progress");
    var status = document.getElementById(input.id + "-status");
    if (!file || !descriptor) { return; }
    clear(input);
    var limit = parseFloat(input.dataset.maxSizeMb || "0") * 1024 * 1024;
    if (limit && file.size > limit) {
      fail(input, status, (say.too_large || "File too large") + " (" + input.dataset.maxSizeMb + " MB)");
      return;
    }
    var data = new FormData();
    data.append("file", file);
    var request = new XMLHttpRequest();
    request.open("POST", "/attachments");
    if (csrf) { request.setRequestHeader("X-CSRF-Token", csrf.content); }
    progress.hidden = false;
    progress.value = 0;
    status.textContent = (say.uploading || "Uploading") + " " + file.name + " 0%";
    pending += 1;
    submitButtons(form, true);
    request.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        var share = Math.round((event.loaded / event.total) * 100);
        progress.value = share;
        status.textContent = (say.uploading || "Uploading") + " " + file.name + " " + share + "%";
      }
    });
    request.addEventListener("loadend", function () {
      pending -= 1;
      if (pending === 0) { submitButtons(form, false); }
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (ignored) { answer = null; }
      if (request.status === 201 && answer) {
        progress.value = 100;
        descriptor.value = JSON.stringify(answer);
        input.removeAttribute("name");   // the descriptor goes with the form, not the file again
        input.dataset.uploaded = answer.sha256;
        status.textContent = (say.uploaded || "Uploaded") + ": " + answer.name + " (" + answer.size_bytes + " B)";
      } else {
        progress.hidden = true;
        descriptor.value = "";
        status.textContent = "";
        var detail = answer && answer.detail ? answer.detail : (say.upload_failed || "Upload failed");
        fail(input, status, typeof detail === "string" ? detail : JSON.stringify(detail));
      }
    });
    request.send(data);
  }

  document.querySelectorAll('input[type="file"][data-attachment]').forEach(function (input) {
    input.addEventListener("change", function () { upload(input); });
  });
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
