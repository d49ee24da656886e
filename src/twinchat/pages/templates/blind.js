// The blind test: reveals a row on a click, keeps the tally, saves it as JSON. The answer
// key is JSON XORed with "twinchat-blind" and base64-encoded (evaluation/report.py).
(function () {
  "use strict";
  var RAW = "$data", K = "twinchat-blind";
  var bin = atob(RAW), bytes = new Uint8Array(bin.length);
  for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i) ^ K.charCodeAt(i % K.length);
  var D = JSON.parse(new TextDecoder().decode(bytes));
  var picks = {};
  function name(a) { return a < 0 ? "real" : D.models[a]; }
  function isReal(authors) { return authors.indexOf(-1) >= 0; }
  function label(authors) {
    var models = authors.filter(function (a) { return a >= 0; }).map(name).join(", ");
    if (isReal(authors)) return models ? "the real reply (also written by " + models + ")"
      : "the real reply";
    return "written by " + models;
  }
  function pct(n, d) { return d ? Math.round(100 * n / d) + "%" : "–"; }
  function tally() {
    var m = D.models.map(function () { return {shown: 0, picked: 0, same_as_real: 0}; });
    var answered = 0, correct = 0, choices = [];
    Object.keys(picks).forEach(function (r) {
      var key = D.key[r], o = picks[r], ok = isReal(key[o]);
      answered++; if (ok) correct++;
      key.forEach(function (authors, i) {
        authors.forEach(function (a) {
          if (a < 0) return;
          if (isReal(authors)) { m[a].same_as_real++; return; }
          m[a].shown++; if (i === o) m[a].picked++;
        });
      });
      choices.push({id: D.ids[r], picked: key[o].map(name), correct: ok, options: key.length});
    });
    var models = {};
    D.models.forEach(function (n, i) {
      var t = m[i];
      t.passed_for_real = t.shown ? t.picked / t.shown : null;
      models[n] = t;
    });
    return {seed: D.seed, examples: D.key.length, answered: answered, correct: correct,
            accuracy: answered ? correct / answered : null, models: models, choices: choices};
  }
  function show() {
    var t = tally();
    var line = "Answered " + t.answered + " of " + t.examples + (t.answered
      ? " · right " + t.correct + " (" + pct(t.correct, t.answered) + ")" : "");
    document.getElementById("score").textContent = line;
    document.getElementById("accuracy").textContent = t.answered ? "You picked the real reply in "
      + t.correct + " of " + t.answered + " examples (" + pct(t.correct, t.answered) + ")."
      : "No answers yet.";
    D.models.forEach(function (n, i) {
      var s = t.models[n], v = {shown: s.shown, picked: s.picked,
        rate: pct(s.picked, s.shown), same: s.same_as_real};
      document.querySelectorAll('td[data-m="' + i + '"]').forEach(function (td) {
        td.textContent = t.answered ? String(v[td.dataset.f]) : "–";
      });
    });
  }
  document.addEventListener("click", function (e) {
    var b = e.target.closest("button.opt");
    if (!b) return;
    var r = +b.dataset.r, o = +b.dataset.o;
    if (r in picks) return;
    picks[r] = o;
    var row = b.closest(".row"), key = D.key[r];
    row.querySelectorAll("button.opt").forEach(function (x) {
      var authors = key[+x.dataset.o];
      x.disabled = true;
      x.classList.add(isReal(authors) ? "is-real" : "is-model");
      x.querySelector(".who").textContent = label(authors);
    });
    b.classList.add("picked");
    row.querySelector(".res").textContent = isReal(key[o])
      ? "Right: that is the real reply." : "Wrong: that one was " + label(key[o]) + ".";
    show();
  });
  document.getElementById("download").addEventListener("click", function () {
    var blob = new Blob([JSON.stringify(tally(), null, 2)], {type: "application/json"});
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "blind-tally.json";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
  });
})();
