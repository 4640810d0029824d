// Keyboard shortcuts and inline decisions. Everything here is optional: without this file
// every form still posts and redirects back.
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var DECISION_KEYS = { c: "confirmed", d: "dismissed", e: "escalated" };

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row")); }
  function selected() { return document.querySelector("tr.row.selected"); }

  function select(row) {
    var old = selected();
    if (old) { old.classList.remove("selected"); }
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var i = all.indexOf(selected());
    var next = i < 0 ? 0 : Math.min(all.length - 1, Math.max(0, i + step));
    select(all[next]);
  }

  function setState(form, state) {
    var scope = form.closest("tr.row") || document;
    var badge = scope.querySelector(".state") || document.getElementById("state");
    if (badge) {
      badge.textContent = state;
      badge.className = "state state-" + state;
    }
  }

  function submitInline(form, decision) {
    var data = new FormData(form);
    data.set("decision", decision);
    form.classList.add("busy");
    return fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (resp) {
      form.classList.remove("busy");
      if (!resp.ok) { throw new Error("HTTP " + resp.status); }
      return resp.json();
    }).then(function (body) {
      setState(form, body.state);
      var note = form.querySelector("[name=note]");
      if (note) { note.value = ""; }
      form.classList.add("done");
    }).catch(function (err) {
      form.classList.add("failed");
      form.setAttribute("data-error", String(err.message || err));
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("decide") || form.classList.contains("full")) { return; }
    var button = ev.submitter;
    if (!button || button.name !== "decision") { return; }
    ev.preventDefault();
    submitInline(form, button.value);
  });

  document.addEventListener("click", function (ev) {
    var row = ev.target.closest && ev.target.closest("tr.row");
    if (row) { select(row); }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || ev.target.isContentEditable) { return; }
    var key = ev.key;
    if (key === "j") { move(1); ev.preventDefault(); return; }
    if (key === "k") { move(-1); ev.preventDefault(); return; }
    if (key === "o" || key === "Enter") {
      var row = selected();
      var link = row && row.querySelector("a.open");
      if (link) { window.location.href = link.href; ev.preventDefault(); }
      return;
    }
    var decision = DECISION_KEYS[key];
    if (!decision) { return; }
    var full = document.getElementById("decide");
    if (full) {
      var btn = full.querySelector('button[value="' + decision + '"]');
      if (btn) { btn.click(); ev.preventDefault(); }
      return;
    }
    var current = selected();
    var form = current && current.querySelector("form.decide");
    if (form) { submitInline(form, decision); ev.preventDefault(); }
  });
})();
