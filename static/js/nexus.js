// Small glue for the export popup and the jobs list; everything else is HTMX.
(function () {
  "use strict";

  function heldOut(n, ratio) {
    return Math.min(n, Math.max(0, Math.floor(ratio * n + 0.5)));  // FORMATS.md §3
  }

  function setupPopup(dialog) {
    var form = dialog.querySelector("form");
    var choices = form.querySelectorAll('input[name="format"]');
    var normalized = form.querySelector("#id_normalized");
    var warning = form.querySelector("#normalized-warning");
    var includeImages = form.querySelector("#id_include_images");
    var includeNote = form.querySelector("#include-images-note");
    var slider = form.querySelector("#id_split_ratio");
    var validSlider = form.querySelector("#id_valid_ratio");
    var counts = form.querySelector("#split-counts");
    var n = parseInt(dialog.dataset.imageCount || "0", 10);

    function option() { return form.querySelector('input[name="format"]:checked'); }
    function updateWarning() {
      var convention = option() ? option().dataset.normalized : "none";
      var departs = convention !== "none" && (convention === "on") !== normalized.checked;
      warning.hidden = !departs;
      warning.textContent = departs ? option().dataset.warning : "";
    }
    function onFormat() {
      var opt = option();
      if (!opt) { return; }
      normalized.disabled = opt.dataset.normalized === "none";
      if (opt.dataset.normalized !== "none") { normalized.checked = opt.dataset.normalized === "on"; }
      var always = opt.dataset.imagesAlways === "yes";
      includeImages.disabled = always;
      if (always) { includeImages.checked = true; }
      includeNote.hidden = !always;
      updateWarning();
    }
    function onSplit() {  // the sizes of a random split; stable ones are close to them
      var test = heldOut(n, parseFloat(slider.value));
      var valid = Math.min(n - test, heldOut(n, parseFloat(validSlider.value)));
      var over = parseFloat(slider.value) + parseFloat(validSlider.value) > 1.0000001;
      counts.textContent = over ? "Train-test split and validation share add up to more than 1"
        : (n - test - valid) + " train / " + valid + " valid / " + test + " test";
      counts.classList.toggle("error", over);
    }
    if (!option()) {  // preselect the first format this dataset can export
      for (var i = 0; i < choices.length; i++) {
        if (!choices[i].disabled) { choices[i].checked = true; break; }
      }
    }
    var filter = dialog.querySelector("#format-filter");
    function onFilter() {  // hides the formats whose name, id and description miss the words
      var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      dialog.querySelectorAll(".formats .family").forEach(function (family) {
        var any = false;
        family.querySelectorAll(".format-option").forEach(function (option) {
          var text = option.dataset.search;
          var match = words.every(function (w) { return text.indexOf(w) !== -1; });
          option.hidden = !match;
          any = any || match;
        });
        family.hidden = !any;
        if (any && !family.closest(".unavailable")) { shown++; }
      });
      dialog.querySelector("#format-filter-empty").hidden = shown > 0;
    }
    // The filter is not an export option: its keys reach neither the preview nor the submit.
    filter.addEventListener("input", function (event) { event.stopPropagation(); onFilter(); });
    filter.addEventListener("change", function (event) { event.stopPropagation(); });
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    choices.forEach(function (c) { c.addEventListener("change", onFormat); });
    normalized.addEventListener("change", updateWarning);
    slider.addEventListener("input", onSplit);
    validSlider.addEventListener("input", onSplit);
    dialog.querySelectorAll("[data-close]").forEach(function (b) {
      b.addEventListener("click", function () { dialog.close(); });
    });
    dialog.addEventListener("close", function () { dialog.remove(); });
    if (dialog.dataset.bound) {  // a re-rendered (invalid) form keeps the user's choices
      updateWarning();
    } else {
      onFormat();
    }
    onSplit();
    if (!dialog.open) { dialog.showModal(); }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = document.getElementById("export-dialog");
    if (dialog && event.detail.target.id === "modal") { setupPopup(dialog); }
  });
  // After Export: the popup closes, Current Jobs scrolls into view with the new row highlighted
  // (again after each poll swaps the list), and a confirmation stays on screen with "Show".
  var highlighted = null;
  function highlight() {
    var row = highlighted && document.getElementById(highlighted);
    if (row) { row.classList.add("just-added"); }
    return row;
  }
  function showJob() {
    var jobs = document.getElementById("current-jobs");
    if (jobs) { jobs.scrollIntoView({block: "start"}); }
    var row = highlight();
    if (row) { row.scrollIntoView({block: "nearest"}); }
  }
  document.addEventListener("export-created", function (event) {
    var dialog = document.getElementById("export-dialog");
    if (dialog) { dialog.close(); }
    var detail = event.detail || {};
    highlighted = detail.job || null;
    showJob();
    var toast = document.getElementById("export-toast");
    if (toast && detail.message) {
      toast.querySelector(".toast-text").textContent = detail.message;
      toast.hidden = false;
    }
  });
  document.addEventListener("htmx:afterSettle", highlight);
  document.addEventListener("click", function (event) {
    var toast = document.getElementById("export-toast");
    if (!toast) { return; }
    if (event.target.closest(".toast-show")) { showJob(); }
    if (event.target.closest(".toast-close")) { toast.hidden = true; }
  });

  // A shown download link refreshes the jobs list when it expires: one timer for the soonest
  // link, set again after every swap of the list (it polls only while a job runs).
  var expiryTimer = null, expiryAt = null;
  function refreshJobs() {
    var jobs = document.getElementById("current-jobs");
    expiryAt = null;
    if (jobs && window.htmx) {
      htmx.ajax("GET", jobs.dataset.jobsUrl, {target: "#current-jobs", swap: "outerHTML"});
    }
  }
  function watchExpiry() {
    clearTimeout(expiryTimer);
    expiryAt = null;
    document.querySelectorAll("#current-jobs [data-expires-in]").forEach(function (row) {
      if (!row.dataset.expiresAt) {  // seconds from the server: no trust in the local clock
        row.dataset.expiresAt = Date.now() + parseInt(row.dataset.expiresIn, 10) * 1000;
      }
      var at = Number(row.dataset.expiresAt);
      if (expiryAt === null || at < expiryAt) { expiryAt = at; }
    });
    if (expiryAt !== null) {
      expiryTimer = setTimeout(refreshJobs, Math.min(Math.max(0, expiryAt - Date.now()),
                                                     2147483647));
    }
  }
  document.addEventListener("visibilitychange", function () {  // timers sleep with the laptop
    if (!document.hidden && expiryAt !== null && Date.now() >= expiryAt) { refreshJobs(); }
  });
  document.addEventListener("htmx:afterSettle", watchExpiry);
  document.addEventListener("DOMContentLoaded", watchExpiry);

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy-link");
    if (!button) { return; }
    var url = button.dataset.url;
    var done = function () { button.textContent = button.dataset.done || "Link copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { window.prompt("Copy this link:", url); });
    } else {
      window.prompt("Copy this link:", url);
    }
  });
})();
