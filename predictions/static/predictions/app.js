// The user page: autocomplete, submit, live progress from the events stream, the range drawn
// beside the player's recent games. Plain JS, session auth (CSRF token from the cookie).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const api = "/api/v1/";
  let playerIds = {};      // display name -> id, from the autocomplete
  let stream = null;

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function getJSON(url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
    return response.json();
  }

  function text(tag, content, cls) {
    const el = document.createElement(tag);
    el.textContent = content;
    if (cls) el.className = cls;
    return el;
  }

  // --- autocomplete -------------------------------------------------------------------------------
  let timer = null;
  $("player").addEventListener("input", () => {
    clearTimeout(timer);
    const query = $("player").value.trim();
    if (query.length < 2 || playerIds[query]) return;
    timer = setTimeout(async () => {
      try {
        const page = await getJSON(`${api}players/?search=${encodeURIComponent(query)}`);
        const options = $("player-options");
        options.replaceChildren();
        page.results.slice(0, 12).forEach((p) => {
          playerIds[p.name] = p.id;
          const option = document.createElement("option");
          option.value = p.name;
          options.appendChild(option);
        });
      } catch (err) { /* autocomplete is a convenience: typing still works */ }
    }, 200);
  });

  // --- submit -----------------------------------------------------------------------------------------
  function outNames(value) {
    return [...new Set(value.split(",").map((n) => n.trim()).filter((n) => n))];
  }

  function showErrors(body) {
    const box = $("errors");
    box.replaceChildren();
    if (typeof body === "string") { box.textContent = body; box.hidden = false; return; }
    Object.entries(body).forEach(([field, messages]) => {
      if (field === "did_you_mean") return;
      box.appendChild(text("div", `${field}: ${[].concat(messages).join(" ")}`));
    });
    if (body.did_you_mean && body.did_you_mean.length) {
      const line = text("div", "Did you mean: ");
      body.did_you_mean.forEach((name) => {
        const button = text("button", name, "suggestion");
        button.type = "button";
        button.addEventListener("click", () => { $("player").value = name.replace(/ \(id \d+\)$/, ""); box.hidden = true; });
        line.appendChild(button);
      });
      box.appendChild(line);
    }
    box.hidden = false;
  }

  $("ask").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("errors").hidden = true;
    const name = $("player").value.trim();
    const payload = {player: playerIds[name] ? String(playerIds[name]) : name};
    if ($("opponent").value) payload.opponent = $("opponent").value;
    if ($("date").value) payload.date = $("date").value;
    if ($("home").value) payload.home = $("home").value === "true";
    // Who is out: comma-separated names, each sent as its id when the autocomplete knows it (as the player).
    const out = outNames($("out").value);
    if (out.length) payload.out = out.map((n) => (playerIds[n] ? String(playerIds[n]) : n));
    $("submit").disabled = true;
    try {
      const response = await fetch(`${api}predictions/`, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken(),
                  "Idempotency-Key": (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random()))},
        body: JSON.stringify(payload),
      });
      const body = await response.json().catch(() => ({detail: response.statusText}));
      if (response.status === 202) {
        follow(body);
      } else if (response.status === 429) {
        showErrors(`Too many requests: try again in ${response.headers.get("Retry-After") || "a few"} seconds.`);
      } else {
        showErrors(body.detail ? String(body.detail) : body);
      }
    } catch (err) {
      showErrors(`Could not reach the server: ${err.message}`);
    } finally {
      $("submit").disabled = false;
    }
  });

  // --- progress from the events stream --------------------------------------------------------------
  // A request the pipeline could not answer: the reason once, where input errors show, no progress bar.
  function showFailure(reason) {
    $("progress-card").hidden = true;
    showErrors(reason || "The prediction failed.");
  }

  function setProgress(state) {
    if (state.status === "failed") { showFailure(state.message); return; }
    $("progress-card").hidden = false;
    $("bar").style.width = `${state.percent || 0}%`;
    $("bar").className = state.status === "failed" ? "failed" : "";
    $("step-label").textContent = state.message || state.step_label || state.status;
    $("step-count").textContent = state.step_index ? `step ${state.step_index} of ${state.step_count} · ${state.percent}%` : "";
  }

  function follow(accepted) {
    if (stream) stream.close();
    $("result-card").hidden = true;
    $("errors").hidden = true;
    setProgress({status: "queued", percent: 0, message: "Waiting for a worker"});
    stream = new EventSource(accepted.events_url, {withCredentials: true});
    stream.addEventListener("progress", (e) => setProgress(JSON.parse(e.data)));
    stream.addEventListener("result", (e) => {
      stream.close();
      const job = JSON.parse(e.data);
      if (job.status === "succeeded") setProgress({status: job.status, percent: 100, message: "Done"});
      show(job);
      loadHistory();
    });
    stream.addEventListener("error", () => { /* EventSource reconnects by itself, resuming after the last id */ });
  }

  // --- the result ------------------------------------------------------------------------------------
  async function show(job) {
    if (job.status !== "succeeded") {
      if (job.status === "failed") showFailure(job.error);
      return;
    }
    const r = job.result;
    $("result-card").hidden = false;
    const venue = job.home ? "vs" : "@";
    $("result-title").textContent =
      `${job.player.name} (${job.team}) ${venue} ${job.opponent}, ${job.date}${job.hypothetical ? " (hypothetical)" : ""}`;
    let line = `${Math.round(r.p10)}–${Math.round(r.p90)} points, median ${Math.round(r.p50)}`;
    if (r.actual_points !== null && r.actual_points !== undefined) {
      line += ` · scored ${r.actual_points} (${r.actual_in_range ? "inside" : "outside"} the range)`;
    }
    $("result-text").textContent = line;
    // How fresh the data behind the range is: the player's last game the features used.
    $("result-data").textContent = r.data_through
      ? `data through ${r.data_through} (his last game, ${r.days_since_last_game} day${r.days_since_last_game === 1 ? "" : "s"} before this one)`
      : "";
    // Who is out, as the server resolved it (a player on neither team counts for nothing).
    const out = job.out || [];
    $("result-out").hidden = !out.length;
    $("result-out").textContent = out.length ? "without " + out.map((p) =>
      `${p.name} (${p.team || "?"}${p.ignored ? ", ignored: on neither team" : ""})`).join(", ") : "";
    const models = $("models").querySelector("tbody");
    models.replaceChildren();
    Object.entries(r.model_outputs).forEach(([name, out]) => {
      const row = document.createElement("tr");
      row.append(text("td", name), text("td", `${out.p10.toFixed(1)} / ${out.p50.toFixed(1)} / ${out.p90.toFixed(1)}`),
                 text("td", out.model_version || "", "muted"));
      models.appendChild(row);
    });
    let logs = [];
    try {
      const page = await getJSON(`${api}players/${job.player.id}/gamelogs/?date_before=${job.date}`);
      logs = page.results.filter((g) => g.date < job.date).slice(0, 10);
    } catch (err) { logs = []; }
    const body = $("recent").querySelector("tbody");
    body.replaceChildren();
    logs.forEach((g) => {
      const row = document.createElement("tr");
      row.append(text("td", g.date), text("td", g.opponent), text("td", g.is_home ? "home" : "away"),
                 text("td", g.minutes), text("td", g.pts));
      body.appendChild(row);
    });
    draw(r, logs);
  }

  function draw(r, logs) {
    const svg = $("chart");
    const ns = "http://www.w3.org/2000/svg";
    svg.replaceChildren();
    const top = Math.max(r.p90, r.actual_points || 0, ...logs.map((g) => g.pts)) + 5;
    const x = (v) => 20 + (600 * v) / top;
    const add = (tag, attrs, label) => {
      const el = document.createElementNS(ns, tag);
      Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
      if (label) el.textContent = label;
      svg.appendChild(el);
      return el;
    };
    add("line", {x1: x(0), x2: x(top), y1: 120, y2: 120, class: "axis"});
    for (let v = 0; v <= top; v += 10) {
      add("line", {x1: x(v), x2: x(v), y1: 117, y2: 123, class: "axis"});
      add("text", {x: x(v), y: 140, class: "tick"}, String(v));
    }
    add("rect", {x: x(r.p10), y: 20, width: Math.max(2, x(r.p90) - x(r.p10)), height: 30, class: "range"});
    add("line", {x1: x(r.p50), x2: x(r.p50), y1: 14, y2: 56, class: "median"});
    add("text", {x: x(r.p10), y: 14, class: "tick"}, `p10 ${r.p10.toFixed(1)}`);
    add("text", {x: x(r.p90), y: 14, class: "tick"}, `p90 ${r.p90.toFixed(1)}`);
    logs.forEach((g, i) => {
      add("circle", {cx: x(g.pts), cy: 80 + (i % 3) * 9, r: 4, class: "game"}).appendChild(
        Object.assign(document.createElementNS(ns, "title"), {textContent: `${g.date} vs ${g.opponent}: ${g.pts}`}));
    });
    if (r.actual_points !== null && r.actual_points !== undefined) {
      add("line", {x1: x(r.actual_points), x2: x(r.actual_points), y1: 60, y2: 110, class: "actual"});
      add("text", {x: x(r.actual_points), y: 112, class: "tick"}, `actual ${r.actual_points}`);
    }
  }

  // --- history ---------------------------------------------------------------------------------------
  async function loadHistory() {
    try {
      const page = await getJSON(`${api}predictions/`);
      const list = $("history");
      list.replaceChildren();
      page.results.slice(0, 10).forEach((job) => {
        const item = document.createElement("li");
        const link = text("a", job.label);  // the resolved player's name once known, what was typed until then
        link.href = "#";
        link.addEventListener("click", (e) => { e.preventDefault(); job.status === "succeeded" ? show(job) : follow(job); });
        const status = job.status === "succeeded"
          ? `${Math.round(job.result.p10)}–${Math.round(job.result.p90)} (median ${Math.round(job.result.p50)})`
          : job.status === "failed" ? "failed (open it for the reason)" : `${job.status} ${job.percent}%`;
        const state = text("span", ` ${status}`, job.status);
        if (job.status === "failed") state.title = job.error;
        item.append(link, state);
        list.appendChild(item);
      });
    } catch (err) { /* the list is secondary */ }
  }
  loadHistory();
})();
