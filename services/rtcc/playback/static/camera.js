// The camera page: live or recorded video, a timeline of recordings, gaps and events
// (markers by class), scrub and speed, jump to an event, snapshot, export.
"use strict";

(function () {
  const CLASS_COLORS = { person: "#4da3ff", vehicle: "#ffb020", plate: "#ff6bd5", face: "#b48cff", bicycle: "#3ddc84", "": "#aaa" };
  const LEAD_S = 3; // play an event from a little before it
  const cam = { id: "", player: null, window: null, poll: 0, events: [], spans: [], rangeMin: 15, playing: null, generation: 0 };
  window.rtccCamera = cam;

  const iso = (ms) => new Date(ms).toISOString();
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const x = (ms) => (1000 * (ms - cam.window.start)) / (cam.window.end - cam.window.start);

  async function play(startMs) {
    const generation = ++cam.generation; // a later play() wins over one still opening
    await window.rtcc.stopPlayers();
    clearInterval(cam.poll);
    cam.player = null;
    const speed = $("speed").value;
    const query = startMs ? `?start=${encodeURIComponent(iso(startMs))}&speed=${speed}` : "";
    const status = $("camera-status");
    status.textContent = startMs ? "Opening the recording at " + clock(startMs) + "…" : "Opening live video…";
    delete status.dataset.error;
    cam.playing = startMs ? "recorded" : "live";
    $("camera-badge").textContent = startMs ? "recorded" : "live";
    $("camera-badge").className = "status-badge " + (startMs ? "recorded" : "online");
    const video = $("camera-video");
    video.addEventListener("loadeddata", () => {
      status.textContent = startMs ? "Playing the recording from " + clock(startMs) : "Live";
    }, { once: true });
    try {
      const player = await whepPlay("/whep/cameras/" + encodeURIComponent(cam.id) + query, window.rtcc.token, video);
      if (generation !== cam.generation) { await player.stop(); return; }
      player.cameraId = cam.id;
      cam.player = player;
      window.rtcc.players.push(player);
      if (startMs) { cam.poll = setInterval(pollSession, 1000); drawCursor(startMs); }
    } catch (error) {
      status.textContent = "Refused: " + error.message;
      status.dataset.error = String(error.status || "error");
    }
  }

  async function pollSession() {
    if (!cam.player) return;
    try {
      const s = await window.rtcc.api("/api/sessions/" + cam.player.sessionId);
      const at = s.position ? Date.parse(s.position) : null;
      $("position").textContent = (at ? clock(at) + " · " : "") + s.state + " · " + s.rate + "x"
        + (s.gaps.length ? ` · ${s.gaps.length} gap${s.gaps.length > 1 ? "s" : ""} skipped` : "");
      if (at) drawCursor(at);
    } catch (error) { clearInterval(cam.poll); }
  }

  async function control(body) {
    if (!cam.player) return;
    if (cam.playing === "live" && body.action !== "pause" && body.action !== "resume") return;
    try {
      await window.rtcc.api("/api/sessions/" + cam.player.sessionId + "/control", { method: "POST", body: JSON.stringify(body) });
    } catch (error) {
      $("camera-status").textContent = error.message;
    }
  }

  function drawCursor(ms) {
    const svg = $("timeline");
    svg.querySelector(".cursor")?.remove();
    if (!cam.window || ms < cam.window.start || ms > cam.window.end) return;
    svg.append(svgEl("line", { x1: x(ms), y1: 0, x2: x(ms), y2: 56, class: "cursor" }));
    svg.setAttribute("aria-valuenow", String(Math.round(x(ms))));
    svg.setAttribute("aria-valuetext", clock(ms));
  }

  function drawTimeline() {
    const svg = $("timeline");
    svg.replaceChildren(svgEl("rect", { x: 0, y: 8, width: 1000, height: 24, class: "gap" }));
    for (const span of cam.spans) {
      const a = Math.max(x(Date.parse(span.start)), 0), b = Math.min(x(Date.parse(span.end)), 1000);
      svg.append(svgEl("rect", { x: a, y: 8, width: Math.max(1, b - a), height: 24, class: "span", "data-start": span.start }));
    }
    const classes = new Set();
    for (const ev of cam.events) {
      const at = x(Date.parse(ev.time));
      classes.add(ev.class);
      const mark = svgEl("rect", { x: at - 1.5, y: 36, width: 3, height: 16, class: "event", fill: CLASS_COLORS[ev.class] || "#aaa", "data-event": ev.id });
      const title = svgEl("title", {});
      title.textContent = `${clock(Date.parse(ev.time))} ${ev.class} ${ev.type.replace("_", " ")}`;
      mark.append(title);
      svg.append(mark);
    }
    const axis = [];
    for (let i = 0; i <= 4; i++) axis.push(el("span", {}, clock(cam.window.start + ((cam.window.end - cam.window.start) * i) / 4)));
    $("timeline-axis").replaceChildren(...axis);
    $("timeline-legend").replaceChildren(el("li", {}, el("i", { class: "swatch rec" }), "recorded"),
      el("li", {}, el("i", { class: "swatch gap" }), "no recording"),
      ...[...classes].map((c) => el("li", {}, el("i", { class: "swatch", style: "background:" + (CLASS_COLORS[c] || "#aaa") }), c || "other")));
  }

  function renderEvents() {
    const items = cam.events.slice(0, 200).map((ev) => el("li", {},
      el("button", { type: "button", class: "event-item", dataset: { event: ev.id, time: ev.time }, onclick: () => play(Date.parse(ev.time) - LEAD_S * 1000) },
        el("i", { class: "swatch", style: "background:" + (CLASS_COLORS[ev.class] || "#aaa") }),
        `${clock(Date.parse(ev.time))} · ${ev.class || "object"} · ${ev.type.replace(/_/g, " ")}`
        + (ev.attributes.color ? " · " + ev.attributes.color : ""))));
    $("camera-events").replaceChildren(...(items.length ? items : [el("li", { class: "hint" }, "No events in this range.")]));
  }

  async function load() {
    const end = Date.now(), start = end - cam.rangeMin * 60 * 1000;
    cam.window = { start, end };
    const q = `start=${encodeURIComponent(iso(start))}&end=${encodeURIComponent(iso(end))}`;
    const id = encodeURIComponent(cam.id);
    const [spans, events] = await Promise.allSettled([
      window.rtcc.api(`/api/cameras/${id}/recordings?${q}`),
      window.rtcc.config.search ? window.rtcc.api(`/api/events?cameras=${id}&${q}&page_size=200`) : Promise.resolve({ events: [] }),
    ]);
    cam.spans = spans.status === "fulfilled" ? spans.value.spans : [];
    cam.events = events.status === "fulfilled" ? events.value.events : [];
    if (spans.status === "rejected") $("camera-status").textContent = "No recordings: " + spans.reason.message;
    drawTimeline();
    renderEvents();
  }

  function atPointer(event) {
    const box = $("timeline").getBoundingClientRect();
    return cam.window.start + ((event.clientX - box.left) / box.width) * (cam.window.end - cam.window.start);
  }

  function jump(direction) {
    const now = cam.lastPosition || Date.now();
    const times = cam.events.map((e) => Date.parse(e.time)).sort((a, b) => a - b);
    const target = direction > 0 ? times.find((t) => t > now + 1000) : times.reverse().find((t) => t < now - LEAD_S * 1000 - 1000);
    if (target) { cam.lastPosition = target; play(target - LEAD_S * 1000); }
  }

  function snapshot() {
    const video = $("camera-video");
    if (!video.videoWidth) return;
    const canvas = el("canvas", { width: video.videoWidth, height: video.videoHeight });
    canvas.getContext("2d").drawImage(video, 0, 0);
    const link = el("a", { href: canvas.toDataURL("image/png"), download: `${window.rtcc.cameraName(cam.id)}-${iso(Date.now())}.png` });
    link.click();
  }

  $("play-live").addEventListener("click", () => play(null));
  $("pause").addEventListener("click", () => control({ action: "pause" }));
  $("resume").addEventListener("click", () => control({ action: "resume" }));
  $("speed").addEventListener("change", () => control({ action: "rate", rate: Number($("speed").value) }));
  $("prev-event").addEventListener("click", () => jump(-1));
  $("next-event").addEventListener("click", () => jump(1));
  $("snapshot").addEventListener("click", snapshot);
  // Clips are exported into a case (evidence's chain of custody): the Cases view's form.
  $("export-clip").addEventListener("click", () => { location.hash = "#/cases"; });
  $("timeline").addEventListener("click", (event) => { if (cam.window) { cam.lastPosition = atPointer(event); play(cam.lastPosition); } });
  $("timeline").addEventListener("keydown", (event) => {
    if (!cam.window || !["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    event.preventDefault();
    cam.lastPosition = (cam.lastPosition || cam.window.end - 60000) + (event.key === "ArrowRight" ? 10000 : -10000);
    play(cam.lastPosition);
  });
  for (const b of document.querySelectorAll("[data-range]")) {
    b.addEventListener("click", () => { cam.rangeMin = Number(b.dataset.range); load(); });
  }

  window.rtcc.views.camera = {
    async enter(arg) {
      const [id, at] = arg.split("/");
      cam.id = id;
      cam.lastPosition = at ? Date.parse(at) : null;
      $("camera-title").textContent = window.rtcc.cameraName(id);
      const cases = (window.rtcc.config.modules || []).includes("cases");
      $("export-clip").disabled = !cases;
      $("export-clip").title = cases ? "Export a clip into a case (opens Cases)"
        : "Export needs the evidence service, which this platform does not run";
      $("position").textContent = "";
      if (cam.lastPosition && cam.lastPosition < Date.now() - cam.rangeMin * 60 * 1000) {
        cam.rangeMin = [15, 60, 360, 1440].find((r) => Date.now() - r * 60 * 1000 < cam.lastPosition - 60000) || 1440;
      }
      await load();
      await play(cam.lastPosition);
    },
    async leave() {
      clearInterval(cam.poll);
      cam.generation += 1;
      cam.player = null;
      await window.rtcc.stopPlayers();
    },
    key(event) {
      if (event.key === " ") {
        const paused = $("camera-badge").dataset.paused === "1";
        $("camera-badge").dataset.paused = paused ? "0" : "1";
        control({ action: paused ? "resume" : "pause" });
        return true;
      }
      if (event.key === "]") { jump(1); return true; }
      if (event.key === "[") { jump(-1); return true; }
      if (event.key === "l") { play(null); return true; }
      return false;
    },
  };
})();
