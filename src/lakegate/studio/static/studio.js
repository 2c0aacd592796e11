/* lakegate Studio: what the page does with JavaScript on. Every form also works without it
   (plain POSTs, server-rendered pages); this file only adds: errors that always show, focus that
   follows swaps, tabs, the live Test inputs, response views and copy, and the unsaved-edits guard.
   No inline script anywhere (the Content-Security-Policy forbids it). */
(function () {
  "use strict";

  var dirty = false;
  var leaving = false;
  var activeTab = null;
  var focusBeforeSwap = null;

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---- the banner: every failure says something in the page ---------------------------------
  function banner(kind, title, text, button) {
    var box = $("#studio-banner");
    if (!box) { return; }
    box.textContent = "";
    box.className = "banner banner-" + kind;
    var strong = document.createElement("strong");
    strong.textContent = title;
    box.appendChild(strong);
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    if (button) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button small";
      b.textContent = button.label;
      b.addEventListener("click", button.onClick);
      box.appendChild(b);
    }
    box.hidden = false;
    box.setAttribute("tabindex", "-1");
    box.scrollIntoView({ block: "nearest" });
    box.focus({ preventScroll: true });
  }
  function clearBanner() {
    var box = $("#studio-banner");
    if (box && !box.hidden && !box.dataset.sticky) { box.hidden = true; }
  }

  function useNewSession() {
    fetch("/session", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("signed out"); }
        return r.json();
      })
      .then(function (data) {
        $$("input[name=csrf_token]").forEach(function (i) { i.value = data.csrf_token; });
        document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": data.csrf_token }));
        banner("ok", "Signed in again.", "Your edits are still here: press the button again.");
      })
      .catch(function () {
        banner("bad", "Still signed out.",
          "Open the new link printed by `lakegate studio` in another tab first, then press this button again.",
          { label: "I opened the new link", onClick: useNewSession });
      });
  }

  function sessionEnded() {
    banner("bad", "Your Studio session has ended: nothing was saved.",
      "The Studio restarted or its cookie was cleared. Your edits are still on this page. " +
      "Get a new link: in the terminal running `lakegate studio`, stop it (Ctrl-C) and start it " +
      "again; open the link it prints in another tab, then come back and press the button below.",
      { label: "I opened the new link", onClick: useNewSession });
  }

  function responseText(xhr) {
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var found = doc.querySelector(".error-text, .refused p");
    var hint = doc.querySelector(".hint");
    return [found ? found.textContent.trim() : "", hint ? hint.textContent.trim() : ""]
      .filter(Boolean).join(" ");
  }

  // Enter in the request line (method, path) sends Test, as in an API client; elsewhere the
  // form's default button (Save) stays.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.closest || !field.closest(".request-line")) return;
    var test = document.getElementById("test-button");
    if (test && field.tagName !== "BUTTON") {
      event.preventDefault();
      test.click();
    }
  }, true);
  // A button that destroys something asks first (data-confirm holds the question).
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.dataset.confirm) { return; }
    if (!window.confirm(button.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    // Asked here: the server's own confirmation page (what it shows without JavaScript) is skipped.
    var confirmed = document.createElement("input");
    confirmed.type = "hidden";
    confirmed.name = "confirmed";
    confirmed.value = "yes";
    event.target.appendChild(confirmed);
  }, true);
  document.addEventListener("htmx:beforeRequest", function () { clearBanner(); });
  document.addEventListener("htmx:sendError", function () {
    banner("bad", "The Studio did not answer: nothing was saved.",
      "Is `lakegate studio` still running? Your edits are still on this page: start it again, " +
      "then press the button again.");
  });
  document.addEventListener("htmx:timeout", function () {
    banner("bad", "The Studio took too long to answer.", "Your edits are still on this page; try again.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var status = xhr.status;
    var reason = xhr.getResponseHeader("x-lakegate-refusal") || "";
    if (status === 401) { sessionEnded(); return; }
    if (status === 403 && reason === "stale") { sessionEnded(); return; }
    if (status === 403) {
      banner("bad", "Refused (HTTP 403): nothing was saved.",
        responseText(xhr) || "Reload the page and try again.");
      return;
    }
    if (status >= 500) {
      banner("bad", "The Studio failed (HTTP " + status + "): nothing was saved.",
        "Your edits are still on this page. The terminal running `lakegate studio` shows the details.");
      return;
    }
    banner("bad", "Not done (HTTP " + status + ").", responseText(xhr) || "Reload the page and try again.");
  });

  // ---- focus follows swaps; a failed save scrolls to and focuses its summary -----------------
  document.addEventListener("htmx:beforeSwap", function () {
    var el = document.activeElement;
    focusBeforeSwap = el && el.id ? el.id : null;
  });
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.getResponseHeader("HX-Redirect")) { dirty = false; leaving = true; }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    enhance(document);
    // An outerHTML swap replaced the target: find the new element by its id.
    var old = event.detail.target || event.detail.elt;
    var target = old && old.id ? document.getElementById(old.id) : old;
    var summary = target && target.querySelector ? target.querySelector(".error-summary, .note-focus") : null;
    if (summary) { focusInto(summary); return; }
    var outcome = target && target.querySelector ? target.querySelector("[data-focus-after-swap]") : null;
    if (outcome) { focusInto(outcome); return; }
    if (focusBeforeSwap) {
      var again = document.getElementById(focusBeforeSwap);
      if (again) { again.focus({ preventScroll: true }); }
    }
  });

  function focusInto(el) {
    if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "-1"); }
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }

  // ---- tabs (without JavaScript every section shows, each under its heading) -----------------
  function tabs(root) {
    $$("[data-tabs]", root).forEach(function (box) {
      if (box.dataset.enhanced) { return; }
      box.dataset.enhanced = "1";
      var panels = $$("[data-tab]", box);
      var list = document.createElement("div");
      list.className = "tablist";
      list.setAttribute("role", "tablist");
      list.setAttribute("aria-label", box.getAttribute("data-tabs"));
      var buttons = panels.map(function (panel, i) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "tab";
        b.id = "tab-" + panel.id;
        b.setAttribute("role", "tab");
        b.setAttribute("aria-controls", panel.id);
        b.textContent = panel.getAttribute("data-tab");
        var count = panel.getAttribute("data-count");
        if (count && count !== "0") {
          var c = document.createElement("span");
          c.className = "tab-count";
          c.textContent = count;
          b.appendChild(c);
        }
        if (panel.querySelector(".field-error")) { b.classList.add("tab-error"); }
        panel.setAttribute("role", "tabpanel");
        panel.setAttribute("aria-labelledby", b.id);
        b.addEventListener("click", function () { select(i); });
        b.addEventListener("keydown", function (e) {
          var n = null;
          if (e.key === "ArrowRight") { n = (i + 1) % panels.length; }
          if (e.key === "ArrowLeft") { n = (i - 1 + panels.length) % panels.length; }
          if (e.key === "Home") { n = 0; }
          if (e.key === "End") { n = panels.length - 1; }
          if (n !== null) { e.preventDefault(); select(n); buttons[n].focus(); }
        });
        list.appendChild(b);
        return b;
      });
      function select(i) {
        activeTab = panels[i].id;
        panels.forEach(function (p, j) {
          p.hidden = j !== i;
          buttons[j].setAttribute("aria-selected", j === i ? "true" : "false");
          buttons[j].tabIndex = j === i ? 0 : -1;
        });
      }
      box.insertBefore(list, box.firstChild);
      box.classList.add("tabs-on");
      var withError = panels.findIndex(function (p) { return p.querySelector(".field-error"); });
      var remembered = panels.findIndex(function (p) { return p.id === activeTab; });
      select(withError >= 0 ? withError : remembered >= 0 ? remembered : 0);
    });
  }

  // ---- the Test panel lists the inputs as they are declared ----------------------------------
  function syncTestInputs() {
    var box = $("#test-inputs");
    if (!box) { return; }
    var kept = {};
    // A value the user typed in the panel stays; one that came from the example follows it.
    $$("input[name^=test__]", box).forEach(function (i) {
      if (!i.hasAttribute("data-example")) { kept[i.name.slice(6)] = i.value; }
    });
    var rows = $$("#f-inputs-table tbody tr");
    var declared = [];
    rows.forEach(function (row) {
      var name = ($("input[name=input_name]", row) || {}).value || "";
      name = name.trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || declared.some(function (d) { return d.name === name; })) { return; }
      declared.push({
        name: name,
        type: ($("select[name=input_type]", row) || {}).value || "string",
        required: !!($("input[name=input_required]", row) || {}).checked,
        example: ($("input[name=input_example]", row) || {}).value || ""
      });
    });
    box.textContent = "";
    if (!declared.length) {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = "This action takes no inputs.";
      box.appendChild(p);
      return;
    }
    declared.forEach(function (d) {
      var wrap = document.createElement("div");
      wrap.className = "field compact";
      var label = document.createElement("label");
      label.setAttribute("for", "t-" + d.name);
      label.textContent = d.name + " ";
      var meta = document.createElement("span");
      meta.className = "muted";
      meta.textContent = d.type + (d.required ? ", required" : "");
      label.appendChild(meta);
      var input = document.createElement("input");
      input.id = "t-" + d.name;
      input.name = "test__" + d.name;
      input.autocomplete = "off";
      input.spellcheck = false;
      if (Object.prototype.hasOwnProperty.call(kept, d.name)) {
        input.value = kept[d.name];
      } else {
        input.value = d.example;
        input.setAttribute("data-example", "");
      }
      if (d.required) { input.required = true; input.setAttribute("aria-required", "true"); }
      wrap.appendChild(label);
      wrap.appendChild(input);
      box.appendChild(wrap);
    });
  }

  // ---- response views and copy ---------------------------------------------------------------
  function views(root) {
    $$("[data-views]", root).forEach(function (box) {
      if (box.dataset.enhanced) { return; }
      box.dataset.enhanced = "1";
      var panes = $$("[data-view]", box);
      var bar = $("[data-view-bar]", box);
      if (!bar || panes.length < 2) { return; }
      panes.forEach(function (pane, i) {
        var b = document.createElement("button");
        b.type = "button";
        b.className = "button small view-button";
        b.textContent = pane.getAttribute("data-view");
        b.setAttribute("aria-pressed", i === 0 ? "true" : "false");
        b.addEventListener("click", function () {
          panes.forEach(function (p, j) { p.hidden = j !== i; });
          $$(".view-button", bar).forEach(function (x, j) { x.setAttribute("aria-pressed", j === i ? "true" : "false"); });
        });
        bar.insertBefore(b, $("[data-copy]", bar));
        pane.hidden = i !== 0;
      });
    });
    $$("[data-copy]", root).forEach(function (b) {
      if (b.dataset.enhanced) { return; }
      b.dataset.enhanced = "1";
      b.hidden = false;
      b.addEventListener("click", function () {
        var source = document.getElementById(b.getAttribute("data-copy"));
        if (!source) { return; }
        var text = source.textContent;
        var done = function () {
          b.textContent = "Copied";
          window.setTimeout(function () { b.textContent = "Copy"; }, 2000);
        };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
        } else { fallbackCopy(text); done(); }
      });
    });
  }
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    area.remove();
  }

  function enhance(root) {
    tabs(root);
    views(root);
    syncTestInputs();
  }

  // ---- typing: the unsaved-edits guard, Enter in the Databricks URL, stale errors -------------
  document.addEventListener("input", function (event) {
    var el = event.target;
    var form = el.form || (el.closest && el.closest("form"));
    if (form && form.hasAttribute("data-guard")) { dirty = true; }
    var field = el.closest && el.closest(".has-error");
    if (field && el.matches("input, textarea, select")) {  // an edited field's error is stale
      field.classList.remove("has-error");
      el.removeAttribute("aria-invalid");
      $$(".field-error", field).forEach(function (msg) { msg.remove(); });
      if (el.id) {
        $$('.error-summary a[href="#' + el.id + '"]').forEach(function (a) { a.closest("li").remove(); });
        $$(".error-summary").forEach(function (box) { if (!$("li", box)) { box.remove(); } });
      }
    }
    if (el.name && el.name.indexOf("test__") === 0) { el.removeAttribute("data-example"); }
    if (el.closest && el.closest("#f-inputs-table")) { syncTestInputs(); }
  });
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.form && el.form.hasAttribute("data-guard")) { dirty = true; }
    if (el.closest && el.closest("#f-inputs-table")) { syncTestInputs(); }
  });
  document.addEventListener("keydown", function (event) {
    var el = event.target;
    if (event.key !== "Enter" || !el || !el.name) { return; }
    // Enter runs the button of the field's own box: Fill for the workspace URL, Test for a
    // Test input (elsewhere it saves, as without JavaScript).
    var button = el.name === "databricks_host" ? $("#fill-databricks")
      : el.name.indexOf("test__") === 0 ? $("#test-button") : null;
    if (button) { event.preventDefault(); button.click(); }
  });
  document.addEventListener("submit", function (event) {
    // A plain (non-htmx) submit navigates on purpose: no warning for it.
    if (!event.defaultPrevented) { leaving = true; }
  });
  window.addEventListener("beforeunload", function (event) {
    if (dirty && !leaving) {
      event.preventDefault();
      event.returnValue = "";
      return "";
    }
  });
  window.addEventListener("pageshow", function () { leaving = false; });

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    var summary = $(".error-summary");
    if (summary) { focusInto(summary); }
  });
})();
