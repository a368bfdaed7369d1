// The slate view: live progress from the slate's events stream (then the page shows the finished
// slate), and the finished slate's players sorted by median or name and filtered by team.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  // --- progress ----------------------------------------------------------------------------------
  const card = $("slate-progress");
  function setProgress(state) {
    $("bar").style.width = `${state.percent || 0}%`;
    $("bar").className = state.status === "failed" ? "failed" : "";
    $("slate-stage").textContent = {queued: "Waiting for a worker", running: "Computing", succeeded: "Done",
                                    failed: "Failed"}[state.status] || state.status;
    $("slate-count").textContent = state.progress || "";
  }
  if (card && (card.dataset.status === "queued" || card.dataset.status === "running")) {
    const stream = new EventSource(card.dataset.eventsUrl, {withCredentials: true});
    stream.addEventListener("progress", (e) => setProgress(JSON.parse(e.data)));
    stream.addEventListener("result", (e) => {
      stream.close();
      const slate = JSON.parse(e.data);
      setProgress(slate);
      if (slate.status === "succeeded") {
        window.location.reload();  // the server draws the finished slate
      } else {
        $("slate-error").textContent = slate.error || "The slate failed.";
        $("slate-error").hidden = false;
      }
    });
    // a closed stream (its lifetime) ends with "timeout": open it again
    stream.addEventListener("timeout", () => { stream.close(); window.location.reload(); });
  }

  // --- sort and filter ---------------------------------------------------------------------------
  const sort = $("sort"), team = $("team-filter");
  if (!sort || !team) return;

  function byOrder(order) {
    if (order === "name") return (a, b) => a.dataset.name.localeCompare(b.dataset.name);
    const sign = order === "median-asc" ? 1 : -1;
    return (a, b) => sign * (Number(a.dataset.p50) - Number(b.dataset.p50)) || a.dataset.name.localeCompare(b.dataset.name);
  }

  function apply() {
    const compare = byOrder(sort.value), code = team.value;
    document.querySelectorAll("section.game").forEach((game) => {
      const list = game.querySelector("ol.players");
      const rows = Array.from(list.children).sort(compare);
      rows.forEach((row) => {
        row.hidden = Boolean(code) && row.dataset.team !== code;
        list.appendChild(row);
      });
      game.hidden = rows.every((row) => row.hidden);
      const count = game.querySelector(".game-coverage"), shown = rows.filter((row) => !row.hidden);
      if (count) {  // the inside count of the players shown (one team's, when filtered)
        const played = shown.filter((row) => row.dataset.inside).length;
        const inside = shown.filter((row) => row.dataset.inside === "inside").length;
        count.textContent = `${inside} of ${played} inside`;
      }
    });
  }
  sort.addEventListener("change", apply);
  team.addEventListener("change", apply);
  apply();
})();
