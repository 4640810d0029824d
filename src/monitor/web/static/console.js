// Keyboard shortcuts and inline decisions. Everything here is optional: without this file
// every form still posts and redirects back.
(function () {
  "use strict";
  // With the script, a row's decision is sent as soon as it is chosen (the Save button is for
  // pages without it): console.css hides the button under .js.
  document.documentElement.classList.add("js");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var DECISION_KEYS = { c: "confirmed", d: "dismissed", e: "escalated" };

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr.row")); }
  function selected() { return document.querySelector("tr.row.selected"); }

  function selectRow(row) {
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
    selectRow(all[next]);
  }

  function setState(form, state) {
    var scope = form.closest("tr.row") || document;
    var badge = scope.querySelector(".state") || document.getElementById("state");
    if (badge) {
      badge.textContent = state;
      badge.className = "state state-" + state;
    }
  }

  // The queue's count of the row's severity, one less once it is decided while the queue
  // shows what is left to review.
  function countDown(row) {
    if (!row || row.getAttribute("data-state") !== "unreviewed" || !document.getElementById("show-all")) { return; }
    var sev = row.querySelector(".sev");
    var n = sev && document.querySelector('.counts .n[data-severity="' + sev.textContent + '"]');
    if (n && +n.textContent > 0) { n.textContent = String(+n.textContent - 1); }
  }

  function submitInline(form, decision) {
    if (!decision) { return Promise.resolve(); }
    var data = new FormData(form);
    data.set("decision", decision);
    var select = form.querySelector("select[name=decision]");
    if (select) { select.value = decision; }
    form.classList.remove("failed", "done");
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
      var row = form.closest("tr.row");
      if (row) {
        countDown(row);
        row.setAttribute("data-state", body.state);
        row.classList.add("decided");
      }
    }).catch(function (err) {
      form.classList.add("failed");
      form.setAttribute("data-error", String(err.message || err));
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("decide") || form.classList.contains("full")) { return; }
    var button = ev.submitter;
    var select = form.querySelector("select[name=decision]");
    var decision = button && button.name === "decision" ? button.value : (select ? select.value : "");
    if (!decision) { return; }
    ev.preventDefault();
    submitInline(form, decision);
  });

  // A decision chosen from a row's list is sent at once.
  document.addEventListener("change", function (ev) {
    var select = ev.target;
    if (!select.matches || !select.matches("form.decide:not(.full) select[name=decision]")) { return; }
    var row = select.closest("tr.row");
    if (row) { selectRow(row); }
    select.blur();  // the keys are the queue's again
    submitInline(select.form, select.value);
  });

  document.addEventListener("click", function (ev) {
    var row = ev.target.closest && ev.target.closest("tr.row");
    if (row) { selectRow(row); }
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
    if (form) {
      ev.preventDefault();
      // Decided: on to the next row, as an analyst works down the queue.
      submitInline(form, decision).then(function () {
        if (form.classList.contains("done") && selected() === current) { move(1); }
      });
    }
  });
})();
