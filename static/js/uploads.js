// Upload forms (form[data-upload]): drag and drop, XMLHttpRequest with a progress bar, and
// batches of files for image uploads. Without JavaScript the same forms post normally.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Groups of at most `count` files and `bytes` bytes (a request the server accepts whole).
  function batches(files, count, bytes) {
    var out = [], group = [], size = 0;
    files.forEach(function (file) {
      if (group.length && (group.length >= count || size + file.size > bytes)) {
        out.push(group);
        group = [];
        size = 0;
      }
      group.push(file);
      size += file.size;
    });
    if (group.length) { out.push(group); }
    return out;
  }

  function setup(form) {
    var input = form.querySelector("input[type=file]");
    var zone = form.querySelector(".drop-zone");
    var chosen = form.querySelector(".chosen");
    var bar = form.querySelector(".upload-progress");
    var button = form.querySelector("button[type=submit]");
    var target = document.querySelector(form.dataset.target);
    var batchSize = parseInt(form.dataset.batch || "0", 10);
    var maxBytes = parseInt(form.dataset.maxBytes || "0", 10) || Infinity;
    var dropped = null;

    function files() { return dropped || Array.prototype.slice.call(input.files); }
    function showChosen() {
      var list = files();
      chosen.textContent = list.length === 0 ? "" : list.length === 1 ? list[0].name
        : list.length + " files chosen";
    }

    input.addEventListener("change", function () { dropped = null; showChosen(); });
    showChosen();  // files chosen before this script ran (a fast picker, the back button)
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      dropped = Array.prototype.slice.call(event.dataTransfer.files);
      showChosen();
    });

    function send(group, done, total, last) {
      return new Promise(function (resolve) {
        var data = new FormData();
        data.append("csrfmiddlewaretoken", csrfToken(form));
        form.querySelectorAll("select, input:not([type=file])").forEach(function (field) {
          if (field.name && field.name !== "csrfmiddlewaretoken") { data.append(field.name, field.value); }
        });
        group.forEach(function (file) { data.append(input.name, file, file.name); });
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.action);
        xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
        xhr.setRequestHeader("X-CSRFToken", csrfToken(form));
        xhr.upload.addEventListener("progress", function (event) {
          if (event.lengthComputable) {
            bar.value = Math.round(100 * (done + event.loaded * last / event.total) / total);
          }
        });
        xhr.addEventListener("load", function () { resolve(xhr); });
        xhr.addEventListener("error", function () { resolve(null); });
        xhr.send(data);
      });
    }

    form.addEventListener("submit", function (event) {
      var list = files();
      if (list.length === 0) { return; }  // the browser's own "required" message, or a plain post
      event.preventDefault();
      var total = list.reduce(function (sum, f) { return sum + f.size; }, 0) || 1;
      var tooLarge = batchSize > 0 ? list.some(function (f) { return f.size > maxBytes; })
        : total > maxBytes;
      if (tooLarge) {  // refused before sending anything, with the server's own words
        target.innerHTML = '<p class="error" role="alert"></p>';
        target.firstChild.textContent = form.dataset.tooLarge;
        return;
      }
      var groups = batchSize > 0 ? batches(list, batchSize, maxBytes) : [list];
      var done = 0;
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      if (target) { target.innerHTML = ""; }
      var chain = Promise.resolve(true);
      groups.forEach(function (group) {
        var size = group.reduce(function (sum, f) { return sum + f.size; }, 0);
        chain = chain.then(function (go) {
          if (!go) { return false; }
          return send(group, done, total, size).then(function (xhr) {
            done += size;
            if (xhr === null) {
              target.insertAdjacentHTML("beforeend", '<p class="error" role="alert">The connection was lost during the upload.</p>');
              return false;
            }
            var location = xhr.getResponseHeader("X-Location");
            if (location) { window.location.assign(location); return false; }
            if (target) { target.insertAdjacentHTML("beforeend", xhr.responseText); }
            return xhr.status < 400 || groups.length > 1;
          });
        });
      });
      chain.then(function () {
        bar.value = 100;
        button.disabled = false;
        dropped = null;
        form.reset();
        showChosen();
      });
    });
  }

  document.querySelectorAll("form[data-upload]").forEach(setup);
})();
