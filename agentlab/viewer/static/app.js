// agentlab view: a hash-routed page over JSON from the server (/api/KIND?params) or, in a
// static report, from shards in data/ loaded on demand with <script> tags (works from file://).
// Plain JS, no build step. Every text from the store goes in through textContent.
"use strict";

const STATIC = !!window.AGENTLAB_STATIC;
const app = document.getElementById("app");

// ---- data ----------------------------------------------------------------------------------
function query(params) {
  return Object.keys(params).sort().filter((k) => params[k] !== undefined && params[k] !== "")
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(params[k])).join("&");
}
// The shard file name of one request; the same rule as agentlab/viewer/report.py:shard_name.
function shardName(kind, params) {
  const bytes = new TextEncoder().encode(kind + "?" + query(params));
  let out = "";
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : "~" + b.toString(16).padStart(2, "0");
  }
  return out;
}
const shards = {};
window.agentlabShard = (name, data) => { shards[name] = data; };
function loadShard(name) {
  if (name in shards) return Promise.resolve(shards[name]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = "data/" + name + ".js";
    s.onload = () => (name in shards ? resolve(shards[name]) : reject(new Error("empty shard " + name)));
    s.onerror = () => reject(new Error("this report does not include that page (" + name + ")"));
    document.head.appendChild(s);
  });
}
async function load(kind, params) {
  if (STATIC) {
    const data = await loadShard(shardName(kind, params));
    if (data && data.error) throw new Error(data.error);
    return data;
  }
  const resp = await fetch("api/" + kind + "?" + query(params));
  let data;
  try { data = await resp.json(); } catch (e) { throw new Error("the server sent no page (" + resp.status + ")"); }
  if (!resp.ok) throw new Error(data.error || "error " + resp.status);
  return data;
}
function assetUrl(kind, params, ext) {
  return STATIC ? "data/" + shardName(kind, params) + ext : "api/" + kind + "?" + query(params);
}

// ---- DOM helpers ---------------------------------------------------------------------------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const enc = encodeURIComponent;
const fmt = {
  usd: (v) => (v === null || v === undefined ? "–" : "$" + Number(v).toFixed(4)),
  pct: (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(1) + "%"),
  num: (v, d = 3) => (v === null || v === undefined ? "–" : Number(v).toFixed(d)),
  int: (v) => (v === null || v === undefined ? "–" : String(v)),
  dur: (s) => (s === null || s === undefined ? "–" : s < 120 ? s.toFixed(1) + " s" : (s / 60).toFixed(1) + " min"),
  bool: (v) => (v === null || v === undefined ? "–" : v ? "yes" : "no"),
};
function td(value, cls, key) { return h("td", { class: cls, "data-k": key }, value); }
function table(head, rows) { return h("table", {}, h("tr", {}, head.map((x) => (x instanceof Node ? x : h("th", {}, x)))), rows); }
function kv(pairs) {
  return h("table", { class: "kv" }, pairs.map(([k, v, key]) => h("tr", {}, h("td", {}, k), td(v, "num", key))));
}
function link(href, text) { return h("a", { href }, text); }
function show(...kids) { app.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined)); }
function showError(err) {
  show(h("h1", {}, "Cannot show this page"), h("p", { class: "error", id: "error" }, err.message || String(err)),
    h("p", {}, link("#/", "back to the runs list")));
}
function pager(page, more, go) {
  return h("div", { class: "pager" },
    h("button", { disabled: page === 0, onclick: () => go(page - 1) }, "‹ previous"),
    h("span", {}, "page " + (page + 1) + " "),
    h("button", { disabled: !more, onclick: () => go(page + 1) }, "next ›"));
}
function textBlock(t, turnId, cls) {
  if (!t) return null;
  const pre = h("pre", { class: cls || "" }, t.text);
  if (!t.cut) return pre;
  const href = assetUrl("text", { turn: turnId, path: t.path }, ".txt");
  return h("div", {}, pre, h("p", { class: "muted" }, "showing " + t.text.length + " of " + t.length +
    " characters · ", h("a", { href, target: "_blank", class: "full" }, "open the whole text")));
}
function diffBlock(t, turnId) {
  const pre = textBlock(t, turnId, "diff");
  const target = pre.tagName === "PRE" ? pre : pre.querySelector("pre");
  target.replaceChildren(...t.text.split("\n").map((line) => {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
      : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : "";
    return h("span", { class: cls }, line + "\n");
  }));
  return pre;
}

// ---- pages ---------------------------------------------------------------------------------
const SORTS = [["name", "name"], ["kind", "kind"], [null, "model(s)"], ["status", "status"], [null, "problems"],
  [null, "coverage"], ["score", "selected score"], ["spent", "$ spent / cap"], ["created", "started"], [null, "duration"]];

async function runsPage(state) {
  let data = await load("runs", STATIC ? {} : state);
  let runs = data.runs;
  if (STATIC) runs = runs.filter((r) => (!state.kind || r.kind === state.kind) && (!state.q || (r.name + r.id).includes(state.q)));
  const go = (patch) => { location.hash = "#/?" + query({ ...state, ...patch }); };
  const filters = h("div", { class: "filters" },
    "kind ", h("select", { id: "f-kind", onchange: (e) => go({ kind: e.target.value, page: 0 }) },
      ["", "run", "eval", "select", "profile"].map((k) => h("option", { value: k, selected: state.kind === k }, k || "any"))),
    "search ", h("input", { id: "f-q", value: state.q || "", placeholder: "name or id",
      onchange: (e) => go({ q: e.target.value, page: 0 }) }));
  const picked = new Set();
  const compareBtn = h("button", { id: "compare", disabled: true, onclick: () => {
    const [a, b] = [...picked]; location.hash = "#/compare/" + enc(a) + "/" + enc(b);
  } }, "compare the two checked runs");
  const head = [h("th", {}, "")].concat(SORTS.map(([key, label]) => key
    ? h("th", { class: "sort", onclick: () => go({ sort: key, dir: state.sort === key && state.dir !== "asc" ? "asc" : "desc" }) }, label)
    : h("th", {}, label)));
  const rows = runs.map((r) => h("tr", { "data-run": r.id },
    h("td", {}, h("input", { type: "checkbox", onchange: (e) => {
      if (e.target.checked) picked.add(r.id); else picked.delete(r.id);
      compareBtn.disabled = picked.size !== 2;
    } })),
    h("td", {}, link("#/run/" + enc(r.id), r.name || r.id), h("div", { class: "muted" }, r.id)),
    td(r.kind), td(r.models.join(", ")), td(r.status, "", "status"), td(fmt.int(r.problems), "num", "problems"),
    td(fmt.pct(r.coverage), "num", "coverage"), td(fmt.pct(r.realized_score), "num", "score"),
    td(fmt.usd(r.spent_usd) + " / " + (r.budget_usd == null ? "no cap" : fmt.usd(r.budget_usd)), "num", "spent"),
    td(r.created_at), td(fmt.dur(r.duration_s), "num")));
  const body = runs.length ? [table(head, rows), STATIC ? null : compareBtn,
    pager(data.page, data.more, (p) => go({ page: p }))]
    : [h("p", { id: "empty" }, state.kind || state.q ? "No run matches these filters."
      : "This store has no runs yet. Start one with `agentlab run CONFIG` or `agentlab demo`, then reload.")];
  show(h("h1", {}, "Runs"), filters, ...body);
}

async function runPage(runId) {
  const data = await load("run", { run: runId });
  const r = data.run;
  const statsBox = h("div", { id: "stats" }, h("p", { class: "muted" }, "aggregating the run…"));
  const probBox = h("div", { id: "problems" });
  const decBox = h("div", { id: "decisions" });
  show(h("h1", {}, "Run " + (r.name || r.id)),
    kv([["id", r.id], ["kind", r.kind, "kind"], ["status", r.status, "status"], ["model(s)", r.models.join(", ")],
      ["dataset", data.dataset], ["samples k / iterations n", fmt.int(data.sampling.k) + " / " + fmt.int(data.sampling.n)],
      ["policy", data.policy.type || "–"], ["$ spent", fmt.usd(r.spent_usd), "spent"],
      ["$ cap", r.budget_usd == null ? "no cap" : fmt.usd(r.budget_usd)], ["duration", fmt.dur(r.duration_s)],
      ["predicted score", r.predicted_score == null ? "–" : fmt.pct(r.predicted_score) + " [" + fmt.pct(r.predicted_low) + ", " + fmt.pct(r.predicted_high) + "]", "predicted"],
      ["realized score", fmt.pct(r.realized_score), "realized"]]),
    h("p", {}, "Compare with another run: pick two on the ", link("#/", "runs list"), "."),
    statsBox, h("h2", {}, "Problems"), probBox, h("h2", {}, "Policy decisions"), decBox);
  const problems = async (page) => {
    const d = await load("problems", { run: runId, page });
    probBox.replaceChildren(table(["problem", "status", "samples", "done", "graded", "resolved", "selected", "$"],
      d.problems.map((p) => h("tr", { "data-task": p.task_id },
        h("td", {}, link("#/problem/" + enc(runId) + "/" + enc(p.task_id), p.task_id)), td(p.status),
        td(fmt.int(p.samples), "num"), td(fmt.int(p.done), "num"), td(fmt.int(p.graded), "num"),
        td(fmt.int(p.resolved), "num", "resolved"),
        td(p.selected ? Object.entries(p.selected).map(([m, v]) => m + ": " + fmt.bool(v)).join(", ") : "–"),
        td(fmt.usd(p.usd), "num", "usd")))),
    pager(d.page, d.more, problems));
  };
  const decisions = async (page) => {
    const d = await load("decisions", { run: runId, page });
    const stopsCell = (x) => {
      const cell = h("td", {});
      if (!x.stopped) return cell;
      cell.append(h("button", { class: "stops", onclick: async () => {
        const s = await load("stops", { run: runId, round: x.round });
        cell.replaceChildren(s.stops.map((r) => r.task_id + ": " + (typeof r.reason === "string" ? r.reason : JSON.stringify(r.reason))).join("; ") +
          (s.more ? " …" : ""));
      } }, "show"));
      return cell;
    };
    decBox.replaceChildren(d.decisions.length ? table(["round", "policy", "scheduled", "stopped", "stopped problems and why", "stop all"],
      d.decisions.map((x) => h("tr", { "data-round": x.round }, td(x.round, "num"), td(x.policy), td(x.scheduled, "num", "scheduled"),
        td(x.stopped, "num", "stopped"), stopsCell(x), td(fmt.bool(x.stop_all))))) : h("p", { class: "muted" }, "This run's policy made no recorded decisions (uniform allocation)."),
    ...(d.decisions.length ? [pager(d.page, d.more, decisions)] : []));
  };
  const stats = async () => {
    const s = await load("stats", { run: runId });
    const sel = Object.entries(s.selected);
    statsBox.replaceChildren(
      h("h2", {}, "Coverage vs k, selected vs random pick"),
      h("img", { class: "plot", id: "coverage-plot", alt: "coverage vs k", src: assetUrl("coverage.svg", { run: runId }, ".svg") }),
      h("img", { class: "plot", alt: "cost over time", src: assetUrl("cost.svg", { run: runId }, ".svg") }),
      kv([["problems graded", fmt.int(s.problems), "problems"], ["graded samples", fmt.int(s.samples), "samples"],
        ["coverage (any sample resolved)", fmt.pct(s.coverage), "coverage"],
        ["random pick (expected)", fmt.pct(s.random_pick), "random_pick"],
        ...sel.map(([m, v]) => ["selected (" + m + ")", fmt.pct(v.score), "selected_" + m]),
        ["predicted → realized", (s.predicted[0] == null ? "–" : fmt.pct(s.predicted[0])) + " → " + fmt.pct(s.realized), "pred_real"],
        ["sandbox time", fmt.dur(s.sandbox_s)]]),
      h("p", { class: "muted" }, s.curve.fit ? "power law c(k) = " + s.curve.fit.base.toFixed(3) + "^(a·k^b): a = " +
        fmt.num(s.curve.fit.a) + ", b = " + fmt.num(s.curve.fit.b) + " (band: 90% bootstrap over problems)"
        : "no power-law fit: " + s.curve.fit_note),
      h("h2", {}, "Cost by stage (role) and model"),
      table(["stage / role", "model", "calls", "prompt tokens", "completion tokens", "$"],
        s.cost_by_role.map((c) => h("tr", { "data-role": c.role }, td(c.role), td(c.model), td(c.calls, "num"),
          td(c.prompt_tokens, "num"), td(c.completion_tokens, "num"), td(fmt.usd(c.usd), "num", "usd")))));
  };
  await Promise.all([problems(0), decisions(0), stats().catch((e) => statsBox.replaceChildren(h("p", { class: "error" }, e.message)))]);
}

async function problemPage(runId, taskId) {
  const d = await load("problem", { run: runId, task: taskId });
  const chosen = new Set(d.selections.map((s) => s.candidate_id));
  const trajLink = (sample, anchor) => "#/traj/" + enc(runId) + "/" + enc(taskId) + "/" + sample + (anchor ? "/" + anchor : "");
  const grid = table(["sample", "status", "turns (stage step: action, ✓/✗ own test on the patched code, test exit code on the original, $)"], d.grid.map((g) => {
    const t = d.trajectories.find((x) => x.sample === g.sample);
    return h("tr", { "data-sample": g.sample },
      h("td", {}, g.sample < 0 ? "shared context" : link(trajLink(g.sample), "sample " + g.sample)),
      td(t ? t.status + (t.error ? " (" + t.error.slice(0, 80) + ")" : "") : "–"),
      h("td", {}, g.cells.map((c) => h(g.sample < 0 ? "span" : "a", {
        class: "cell " + (c.passed === true ? "pass" : c.passed === false ? "fail" : ""),
        href: g.sample < 0 ? null : trajLink(g.sample, c.stage + "-" + c.step),
        title: c.error || "",
      }, c.stage + " " + c.step + ": " + c.action + (c.passed === null ? "" : c.passed ? " ✓" : " ✗") +
        (c.exit === null || c.exit === undefined ? "" : " exit " + c.exit) +
        (c.usd == null ? "" : " " + fmt.usd(c.usd))))));
  }));
  const byId = Object.fromEntries(d.candidates.map((c) => [c.id, c]));
  const rowsIds = [...new Set(d.votes.map((v) => v.candidate_id))];
  const colIds = [...new Set(d.votes.map((v) => v.test_candidate_id))];
  const cell = {}; // a cell may hold several runs (a test re-run on unchanged code checks flakiness)
  for (const v of d.votes) {
    const c = (cell[v.candidate_id + ":" + v.test_candidate_id] ||= { pass: 0, total: 0, exits: [] });
    c.pass += v.passed ? 1 : 0; c.total += 1; c.exits.push(v.exit_code + (v.timed_out ? " (timed out)" : ""));
  }
  const label = (id) => (id === null ? "no patch" : byId[id] ? "#" + id + " s" + byId[id].sample : "#" + id);
  const heat = d.votes.length ? h("table", { class: "heat", id: "votes" },
    h("tr", {}, h("th", {}, "candidate \\ test of"), colIds.map((c) => h("th", {}, label(c)))),
    rowsIds.map((r) => h("tr", {}, h("th", { class: chosen.has(r) ? "chosen" : "" }, label(r) + (chosen.has(r) ? " ★ chosen" : "")),
      colIds.map((c) => {
        const v = cell[r + ":" + c];
        const cls = !v ? "" : v.pass === v.total ? "v1" : v.pass === 0 ? "v0" : "vmix";
        return h("td", { class: cls + (chosen.has(r) ? " chosen" : ""), title: v ? "exit " + v.exits.join(", ") : "not run" },
          v ? (v.total === 1 ? (v.pass ? "pass" : "fail") : v.pass + "/" + v.total + " pass") : "");
      }))))
    : h("p", { class: "muted" }, "No vote matrix for this problem (the run did not vote with generated tests).");
  show(h("h1", {}, "Problem " + taskId), h("p", {}, "run ", link("#/run/" + enc(runId), runId)),
    h("h2", {}, "Samples × turns"), grid,
    h("h2", {}, "Candidates"), table(["id", "sample", "source", "status", "votes", "rank", "hidden tests", "$"],
      d.candidates.map((c) => h("tr", { "data-candidate": c.id, class: chosen.has(c.id) ? "chosen" : "" },
        td("#" + c.id + (chosen.has(c.id) ? " ★" : "")), td(c.sample, "num"), td(c.source || "this run"), td(c.status),
        td(fmt.int(c.votes), "num"), td(fmt.int(c.rank), "num"), td(fmt.bool(c.resolved), "", "resolved"), td(fmt.usd(c.usd), "num")))),
    h("h2", {}, "Vote matrix"), heat,
    d.selections.length ? table(["method", "picked", "fallback", "reason"], d.selections.map((s) =>
      h("tr", {}, td(s.method), td(label(s.candidate_id)), td(fmt.bool(s.fallback)), td(s.reason || "")))) : null,
    h("h2", {}, "Hidden tests"), d.evaluations.length ? table(["sample", "outcome", "resolved", "patch applied", "tests passed"],
      d.evaluations.map((e) => h("tr", { "data-eval": e.sample }, td(e.sample, "num"), td(e.outcome, "", "outcome"),
        td(fmt.bool(e.resolved), e.resolved ? "ok" : "bad", "resolved"), td(fmt.bool(e.patch_applied)),
        td(e.tests ? e.tests.passed + " / " + e.tests.total : "–", "num"))))
      : h("p", { class: "muted" }, "No hidden-test evaluation of this run's samples (a selection run carries its candidates' grades: see the table above)."));
}

async function trajectoryPage(runId, taskId, sample, anchor) {
  const d = await load("trajectory", { run: runId, task: taskId, sample });
  const t = d.trajectory;
  let tokens = 0, usd = 0;
  const turns = d.turns.map((x) => {
    const id = x.stage + "-" + x.step;
    if (x.cost) { tokens += x.cost.prompt_tokens + x.cost.completion_tokens; usd += x.cost.usd; }
    const execs = Object.entries(x.execs).map(([k, e]) => h("div", {},
      h("b", {}, k + ": exit " + e.exit_code + (e.timed_out ? " (timed out)" : "") + (e.truncated ? " (output truncated by the sandbox)" : "") +
        ", " + fmt.num(e.duration_s, 2) + " s"),
      h("details", { open: !e.stdout.cut }, h("summary", {}, "stdout (" + e.stdout.length + " chars)"), textBlock(e.stdout, x.id)),
      e.stderr.length ? h("details", {}, h("summary", {}, "stderr (" + e.stderr.length + " chars)"), textBlock(e.stderr, x.id)) : null));
    return h("section", { class: "turn" + (anchor === id ? " target" : ""), id: "step-" + id, "data-step": id },
      h("h3", {}, x.stage + " step " + x.step + ": " + x.action + " ",
        h("a", { href: "#/traj/" + enc(runId) + "/" + enc(taskId) + "/" + sample + "/" + id, class: "deeplink", title: "link to this step" }, "¶")),
      h("p", { class: "muted", "data-k": "turn-cost" }, x.cost ? x.cost.calls + " call(s), " + x.cost.prompt_tokens + " prompt + " +
        x.cost.completion_tokens + " completion tokens, " + fmt.usd(x.cost.usd) : "no LLM call recorded for this step"),
      x.messages.map((m, i) => h("details", { open: i === 0 && m.length < 4000 },
        h("summary", {}, m.role + " (" + m.length + " chars)"), textBlock(m, x.id))),
      x.diff ? h("details", { open: true }, h("summary", {}, "edit (diff)"), diffBlock(x.diff, x.id)) : null,
      x.script ? h("details", {}, h("summary", {}, "test command / script"), textBlock(x.script, x.id)) : null,
      execs, x.error ? h("p", { class: "bad" }, "error: " + x.error) : null);
  });
  for (const c of d.other_calls) { tokens += c.prompt_tokens + c.completion_tokens; usd += c.usd; }
  const other = d.other_calls.length ? h("p", { class: "muted" }, "Totals include LLM calls logged under this sample that no step of it owns: " +
    d.other_calls.map((c) => c.role + " step " + c.step + " (" + c.calls + " call(s), " + fmt.usd(c.usd) + ")").join(", ")) : null;
  show(h("h1", {}, taskId + " · sample " + sample),
    h("p", {}, "run ", link("#/run/" + enc(runId), runId), " · ", link("#/problem/" + enc(runId) + "/" + enc(taskId), "problem")),
    kv([["status", t.status, "status"], ["stage reached", t.stage], ["attempts", t.attempts], ["turns", d.turns.length, "turns"],
      ["tokens", tokens, "tokens"], ["$", fmt.usd(usd), "usd"],
      ["candidate", d.candidate ? d.candidate.status + ", hidden tests: " + (d.candidate.resolved == null ? "not graded" : d.candidate.resolved ? "resolved" : "not resolved") : "none", "candidate"]]),
    other, t.error ? h("p", { class: "bad" }, t.error) : null, turns);
  if (anchor) { const el = document.getElementById("step-" + anchor); if (el) el.scrollIntoView(); }
}

async function comparePage(a, b) {
  const d = await load("compare", { a, b });
  const sa = d.summary[a], sb = d.summary[b];
  const delta = (x, y) => (x == null || y == null ? "–" : ((y - x) >= 0 ? "+" : "") + (100 * (y - x)).toFixed(1) + " pts");
  const mark = (r) => (r.solved ? "solved" : "not solved") + " (" + r.c + "/" + r.n + ")";
  show(h("h1", {}, "Compare " + (sa.name || a) + " vs " + (sb.name || b)),
    h("p", {}, "A = ", link("#/run/" + enc(a), a), ", B = ", link("#/run/" + enc(b), b),
      ". Solved = any graded sample resolved; paired on the problems both runs graded."),
    kv([["common problems", d.common, "common"], ["solved by A only", d.only_a, "only_a"], ["solved by B only", d.only_b, "only_b"],
      ["McNemar exact p (two-sided)", fmt.num(d.p_value, 4), "p_value"],
      ["coverage A → B", fmt.pct(sa.coverage) + " → " + fmt.pct(sb.coverage) + " (" + delta(sa.coverage, sb.coverage) + ")", "coverage"],
      ["selected A → B", fmt.pct(sa.selected) + " → " + fmt.pct(sb.selected) + " (" + delta(sa.selected, sb.selected) + ")", "selected"],
      ["$ on common problems A → B", fmt.usd(sa.usd) + " → " + fmt.usd(sb.usd), "usd"]]),
    h("h2", {}, "Problems, flipped first"),
    table(["problem", "A", "B", "flipped", "$ A", "$ B"], d.rows.map((r) => h("tr", { "data-task": r.task_id, class: r.flipped ? "flipped" : "" },
      h("td", {}, link("#/problem/" + enc(a) + "/" + enc(r.task_id), r.task_id + " (A)"), " · ",
        link("#/problem/" + enc(b) + "/" + enc(r.task_id), "(B)")),
      td(mark(r.a)), td(mark(r.b)), td(r.flipped ? "flipped" : "", r.flipped ? "bad" : ""), td(fmt.usd(r.a.usd), "num"), td(fmt.usd(r.b.usd), "num")))),
    d.rows_total > d.rows.length ? h("p", { class: "muted" }, "showing the first " + d.rows.length + " of " + d.rows_total) : null);
}

// ---- router --------------------------------------------------------------------------------
async function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?");
  const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
  window.scrollTo(0, 0);
  app.replaceChildren(h("p", { class: "muted" }, "loading…"));
  document.body.removeAttribute("data-ready");
  try {
    if (parts.length === 0) {
      if (STATIC && window.AGENTLAB_RUN) { location.hash = "#/run/" + enc(window.AGENTLAB_RUN); return; }
      await runsPage(Object.fromEntries(new URLSearchParams(qs || "")));
    } else if (parts[0] === "run" && parts.length === 2) await runPage(parts[1]);
    else if (parts[0] === "problem" && parts.length === 3) await problemPage(parts[1], parts[2]);
    else if (parts[0] === "traj" && parts.length >= 4) await trajectoryPage(parts[1], parts[2], parts[3], parts[4]);
    else if (parts[0] === "compare" && parts.length === 3) await comparePage(parts[1], parts[2]);
    else throw new Error("no such page: #/" + path);
  } catch (err) {
    showError(err);
  }
  document.body.setAttribute("data-ready", location.hash); // tests wait for it to match
}
window.addEventListener("hashchange", route);
if (!STATIC) load("meta", {}).then((m) => { document.getElementById("store").textContent = m.store; }).catch(() => {});
route();
