// The dashboard of a running sluice job: plain JavaScript over the REST
// API (/api/v1), no dependencies, no build step. It polls once a second.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const api = (p) => fetch("/api/v1/" + p, { cache: "no-store" }).then((r) => r.json());
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const num = (n) => n >= 1e9 ? (n / 1e9).toFixed(2) + "G" : n >= 1e6 ? (n / 1e6).toFixed(2) + "M" : n >= 1e4 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n));
  const bytes = (n) => n >= 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n >= 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n >= 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
  const ms = (n) => n >= 86400e3 ? (n / 86400e3).toFixed(1) + " d" : n >= 3600e3 ? (n / 3600e3).toFixed(1) + " h" : n >= 60e3 ? (n / 60e3).toFixed(1) + " min" :
    n >= 1000 ? (n / 1000).toFixed(2) + " s" : n.toFixed(1) + " ms";
  const colours = ["#2f6fb3", "#d9822b", "#3b9a57", "#8e5ac8", "#c0392b", "#16a0a0", "#7f7f2a", "#b5517a"];

  // The token authorizes savepoints and stops; it comes in the URL's
  // fragment (printed by `sluice run`), which is never sent to the server.
  const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
  if (m) { sessionStorage.setItem("sluice-token", decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  const token = () => sessionStorage.getItem("sluice-token") || "";

  let graphKey = "";

  function layout(job) {
    // Columns by longest path from a source; vertices are in topological order.
    const depth = {}, rows = {};
    for (const v of job.vertices) depth[v.id] = 0;
    for (const e of job.edges) depth[e.to] = Math.max(depth[e.to], depth[e.from] + 1);
    const pos = {};
    let maxY = 0;
    for (const v of job.vertices) {
      const d = depth[v.id];
      const y = rows[d] || 0;
      pos[v.id] = { x: 10 + d * 340, y: 10 + y };
      rows[d] = y + 40 + 20 * v.operators.length;
      maxY = Math.max(maxY, rows[d]);
    }
    return { pos, height: maxY + 10, width: 10 + (Math.max(...Object.values(depth)) + 1) * 340 };
  }

  function drawGraph(job) {
    const g = $("graph");
    const key = JSON.stringify(job.vertices.map((v) => [v.id, v.operators.map((o) => o.uid)]));
    const lay = layout(job);
    if (key !== graphKey) {
      graphKey = key;
      for (const el of g.querySelectorAll(".vertex")) el.remove();
      for (const v of job.vertices) {
        const d = document.createElement("div");
        d.className = "vertex";
        d.dataset.vertexId = v.id;
        d.style.left = lay.pos[v.id].x + "px";
        d.style.top = lay.pos[v.id].y + "px";
        let h = '<div class="vhead"><span>#' + v.id + (v.source ? " source" : "") + ' &times;<b class="par">' + v.parallelism +
          '</b></span><span class="bp"></span></div>';
        for (const o of v.operators) {
          h += '<div class="op" data-uid="' + esc(o.uid) + '"><span class="op-name" title="' + esc(o.uid) + '">' + esc(o.name) +
            '</span><span class="op-counts">in <span class="op-in">0</span> out <span class="op-out">0</span>' +
            (o.dead_lettered == null ? "" : ' dead <span class="op-dead">0</span>') + "</span></div>";
        }
        d.innerHTML = h;
        g.appendChild(d);
      }
    }
    g.style.height = lay.height + "px";
    for (const v of job.vertices) {
      const d = g.querySelector('.vertex[data-vertex-id="' + v.id + '"]');
      d.classList.remove("ok", "low", "high");
      d.classList.add(v.backpressure_level);
      d.querySelector(".bp").textContent = "backpressure " + Math.round(v.backpressure * 100) + "% \u00b7 busy " + Math.round(v.busy * 100) + "%" +
        (v.backlog == null ? "" : " \u00b7 backlog " + num(v.backlog)) + (v.pending == null ? "" : " \u00b7 pending " + num(v.pending));
      for (const o of v.operators) {
        const el = d.querySelector('.op[data-uid="' + CSS.escape(o.uid) + '"]');
        el.querySelector(".op-in").textContent = num(o.records_in);
        el.querySelector(".op-in").dataset.count = o.records_in;
        el.querySelector(".op-out").textContent = num(o.records_out);
        el.querySelector(".op-out").dataset.count = o.records_out;
        el.title = o.uid + (o.commit ? "\ncheckpoint commit: mean " + ms(o.commit.mean_ms) + ", newest " + ms(o.commit.last_ms) : "");
        const dead = el.querySelector(".op-dead");
        if (dead) dead.textContent = num(o.dead_lettered);
      }
    }
    const svg = $("edges");
    svg.setAttribute("width", lay.width);
    svg.setAttribute("height", lay.height);
    let s = "";
    for (const e of job.edges) {
      const a = g.querySelector('.vertex[data-vertex-id="' + e.from + '"]'), b = g.querySelector('.vertex[data-vertex-id="' + e.to + '"]');
      const x1 = a.offsetLeft + a.offsetWidth, y1 = a.offsetTop + a.offsetHeight / 2, x2 = b.offsetLeft, y2 = b.offsetTop + b.offsetHeight / 2;
      const mx = (x1 + x2) / 2;
      s += '<path class="edge" d="M' + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 + '"/>';
      s += '<text class="edge-label" data-from="' + e.from + '" data-to="' + e.to + '" x="' + mx + '" y="' + ((y1 + y2) / 2 - 4) + '" text-anchor="middle">' +
        esc(e.partitioning) + " " + num(e.records_per_second) + "/s</text>";
    }
    svg.innerHTML = s;
  }

  function drawJob(job) {
    $("job-name").textContent = job.name;
    const st = $("job-state");
    st.textContent = job.state;
    st.className = "state " + job.state;
    $("job-uptime").textContent = "up " + Math.round(job.uptime_seconds) + " s, " + job.restarts + " restarts" +
      (job.checkpointing.enabled ? ", checkpoints every " + ms(job.checkpointing.interval_ms) + " (" + job.checkpointing.mode + ")" : ", no checkpoints");
    const ended = job.state === "finished" || job.state === "failed";
    $("savepoint").disabled = ended || !job.checkpointing.enabled;
    $("stop").disabled = ended;
    drawGraph(job);
    const g = job.guarantee;
    if (g) {
      $("guarantee-overall").textContent = g.guarantee;
      $("guarantee-links").innerHTML = g.links.map((l) => '<tr data-name="' + esc(l.name) + '"><td>' + esc(l.role) + "</td><td>" + esc(l.name) + "</td><td>" +
        esc(l.guarantee) + "</td><td>" + esc(l.reason) + "</td></tr>").join("");
      $("downgrades").innerHTML = (g.downgrades || []).map((d) => "<li>" + esc(d) + "</li>").join("");
    } else {
      $("guarantee-overall").textContent = "not reported";
    }
  }

  // subtaskAcks lists when each subtask acknowledged, for a row's tooltip.
  const subtaskAcks = (x) => (x.subtasks || []).map((s) => "#" + s.vertex + "/" + s.subtask + " " + ms(s.ack_ms) + (s.unaligned ? " unaligned" : "")).join("\n");

  function drawCheckpoints(c) {
    $("cp-summary").textContent = c.completed + " completed, " + c.failed + " failed, " + c.restores + " restores";
    const h = c.history.slice(-30);
    const maxD = Math.max(1, ...h.map((x) => x.duration_ms)), maxS = Math.max(1, ...h.map((x) => x.size_bytes));
    const w = 400 / Math.max(h.length, 1);
    let s = "";
    h.forEach((x, i) => {
      const dh = 110 * x.duration_ms / maxD, sh = 110 * x.size_bytes / maxS;
      s += '<rect x="' + (i * w + 1) + '" y="' + (118 - dh) + '" width="' + (w / 2 - 1) + '" height="' + dh + '" fill="' + (x.status === "failed" ? "#d64541" : "#2f6fb3") + '"/>';
      s += '<rect x="' + (i * w + w / 2) + '" y="' + (118 - sh) + '" width="' + (w / 2 - 1) + '" height="' + sh + '" fill="#a4c36a"/>';
    });
    $("cp-chart").innerHTML = s;
    $("cp-rows").innerHTML = c.history.slice(-15).reverse().map((x) => '<tr data-id="' + x.id + '" data-kind="' + esc(x.kind) + '" title="' + esc(subtaskAcks(x)) + '"><td>' + (x.id || "") + "</td><td>" + esc(x.kind) +
      "</td><td" + (x.status === "failed" ? ' class="error" title="' + esc(x.error || "") + '"' : "") + ">" + esc(x.status) + "</td><td>" + new Date(x.time).toLocaleTimeString() +
      "</td><td>" + ms(x.duration_ms) + "</td><td>" + bytes(x.size_bytes) + "</td></tr>").join("");
  }

  function drawThroughput(t) {
    const n = t.times.length;
    let s = "";
    const legend = $("tp-legend");
    legend.textContent = "";
    if (n > 1) {
      const series = t.operators.map((o) => o.records_out_per_second.some((x) => x > 0) ? o.records_out_per_second : o.records_in_per_second);
      const top = Math.max(1, ...series.flat());
      series.forEach((ys, k) => {
        const c = colours[k % colours.length];
        s += '<polyline fill="none" stroke="' + c + '" stroke-width="1.5" points="' + ys.map((y, i) => (800 * i / (n - 1)).toFixed(1) + "," + (155 - 150 * y / top).toFixed(1)).join(" ") + '"/>';
        const item = document.createElement("span"), sw = document.createElement("span");
        sw.className = "sw";
        sw.style.background = c; // set through the DOM: the page's policy refuses inline style attributes
        item.append(sw, t.operators[k].name + " " + num(ys[ys.length - 1]) + "/s");
        legend.appendChild(item);
      });
      s += '<text x="4" y="12" font-size="11">' + num(top) + "/s</text>";
    }
    $("tp-chart").innerHTML = s;
  }

  function drawWatermarks(w) {
    $("wm-rows").innerHTML = w.vertices.flatMap((v) => v.subtasks.map((s) => "<tr><td>" + esc(v.name) + "</td><td>" + s.subtask + "</td><td>" +
      (s.end_of_input ? "end of input" : s.watermark_ms == null ? "none" : new Date(s.watermark_ms).toISOString()) + "</td><td>" + (s.lag_ms == null ? "" : ms(s.lag_ms)) + "</td></tr>")).join("");
  }

  function drawExceptions(x) {
    $("ex-summary").textContent = x.failures.length + " failures, " + x.restarts + " restarts";
    $("ex-final").textContent = x.final ? "ended with: " + x.final.error : "";
    $("ex-list").innerHTML = x.failures.slice(0, 20).map((f) => "<li><b>" + new Date(f.time).toLocaleTimeString() + "</b> " +
      (f.permanent ? "permanent, not restarted" : f.restarted ? "restarted after " + ms(f.restart_delay_ms) : "not restarted") +
      '<div class="causes">' + f.causes.map(esc).join("<br>caused by: ") + "</div></li>").join("");
  }

  async function refresh() {
    try {
      const [job, cps, tp, wm, ex] = await Promise.all([api("job"), api("checkpoints"), api("throughput"), api("watermarks"), api("exceptions")]);
      drawJob(job);
      drawCheckpoints(cps);
      drawThroughput(tp);
      drawWatermarks(wm);
      drawExceptions(ex);
      document.body.dataset.updated = String(Date.now());
    } catch (e) {
      $("job-state").textContent = "unreachable";
      $("job-state").className = "state failed";
    }
  }

  async function act(what, path, button) {
    const out = $("action-result");
    let t = token();
    if (!t) {
      t = prompt("The job's token (printed by sluice run, or $SLUICE_TOKEN):") || "";
      if (!t) return;
      sessionStorage.setItem("sluice-token", t);
    }
    button.disabled = true;
    out.className = "";
    out.textContent = what + "...";
    try {
      const r = await fetch("/api/v1/" + path, { method: "POST", headers: { Authorization: "Bearer " + t } });
      const body = await r.json();
      if (r.status === 401) sessionStorage.removeItem("sluice-token");
      if (!r.ok) throw new Error(body.error || r.statusText);
      out.textContent = what + " done: " + body.path;
      out.dataset.path = body.path;
    } catch (e) {
      out.className = "err";
      out.textContent = what + " failed: " + e.message;
    } finally {
      button.disabled = false;
      refresh();
    }
  }

  $("savepoint").addEventListener("click", () => act("savepoint", "savepoints", $("savepoint")));
  $("stop").addEventListener("click", () => { if (confirm("Stop the job with a final checkpoint?")) act("stop", "stop", $("stop")); });
  refresh();
  setInterval(refresh, 1000);
})();
