// The Alerts view, as a self-contained module the console mounts (owned by alerting).
//
//   import { mountAlerts } from "/static/alerts.js";
//   const view = mountAlerts(document.querySelector("#alerts"), {
//     token: () => accessToken,            // a function returning the bearer token
//     onCamera: (camera, mode) => {},      // optional: play camera.live_url / recording_url
//     onSelect: (alert, context) => {},    // optional: e.g. centre the map, draw view cones
//   });
//   view.close();
//
// It reads the alerting JSON API (docs/alerting.md): the list, then live changes over
// Server-Sent Events resumed from the last sequence after a reconnect; the context of
// the selected alert (ranked cameras, plate reads, history, hits, holds); and the
// lifecycle actions. No framework, no globals; styles are scoped under .rtcc-alerts.

const STATE_ACTIONS = {
  open: ["acknowledge", "assign", "resolve", "dismiss"],
  acknowledged: ["assign", "resolve", "dismiss"],
  assigned: ["assign", "resolve", "dismiss"],
  resolved: [],
  dismissed: [],
};
const SEVERITY = { 1: "low", 2: "medium", 3: "high", 4: "critical" };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

export function mountAlerts(root, options) {
  const token = options.token;
  const alerts = new Map();
  let selected = null;
  let sequence = 0;
  let source = null;
  let closed = false;

  root.classList.add("rtcc-alerts");
  const list = el("ul", { class: "rtcc-alerts-list" });
  const detail = el("section", { class: "rtcc-alerts-detail" });
  const status = el("div", { class: "rtcc-alerts-status" }, "connecting…");
  root.replaceChildren(status, list, detail);

  async function api(path, init = {}) {
    const response = await fetch(path, {
      ...init,
      headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json" },
    });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function renderList() {
    const items = [...alerts.values()].sort((a, b) => (a.create_time < b.create_time ? 1 : -1));
    list.replaceChildren(
      ...items.map((a) =>
        el(
          "li",
          {
            class: `sev-${SEVERITY[a.severity]} state-${a.state}${selected === a.id ? " selected" : ""}`,
            onclick: () => select(a.id),
          },
          el("strong", {}, a.title),
          el("span", { class: "meta" }, ` ${a.state} · ${a.kind} · ${new Date(a.first_trigger_time).toLocaleTimeString()}`),
        ),
      ),
    );
  }

  async function select(id) {
    selected = id;
    renderList();
    const context = await api(`/api/alerts/${encodeURIComponent(id)}/context?purpose=${encodeURIComponent("operator review")}`);
    renderDetail(context);
    if (options.onSelect) options.onSelect(context.alert, context);
  }

  function action(alert, name) {
    return el("button", {
      onclick: async () => {
        const body = { etag: alert.etag };
        if (name === "assign") body.unit = prompt("Unit or call sign") || "";
        if (name === "resolve") body.outcome = "actioned";
        if (name === "dismiss") body.reason = prompt("Why does it need no action?") || "";
        try {
          const updated = await api(`/api/alerts/${alert.id}/${name}`, { method: "POST", body: JSON.stringify(body) });
          alerts.set(updated.id, updated);
          await select(updated.id);
        } catch (error) {
          status.textContent = error.message;
        }
      },
    }, name);
  }

  function renderDetail(context) {
    const alert = context.alert;
    const cameras = context.cameras.map((c) =>
      el("li", { class: c.in_view ? "in-view" : "near" },
        `${c.rank}. ${c.display_name} — ${c.reason} `,
        c.live_available ? el("button", { onclick: () => options.onCamera && options.onCamera(c, "live") }, "live") : null,
        c.recorded_available ? el("button", { onclick: () => options.onCamera && options.onCamera(c, "recorded") }, "at alert") : null,
      ),
    );
    detail.replaceChildren(
      el("h3", {}, alert.title),
      el("div", { class: "actions" }, ...(STATE_ACTIONS[alert.state] || []).map((n) => action(alert, n))),
      el("h4", {}, `Cameras (${context.cameras.length})`), el("ol", {}, cameras),
      el("h4", {}, `Plate reads (${context.plate_reads.length})`),
      el("ul", {}, context.plate_reads.map((r) => el("li", {}, `${r.plate} · ${new Date(r.read_time).toLocaleTimeString()} · ${r.camera_id}`))),
      el("h4", {}, `Hot list hits (${context.hotlist_hits.length})`),
      el("ul", {}, context.hotlist_hits.map((h) => el("li", {}, `${h.entry.plate} (${h.entry.category}) read ${h.read_plate}, ${h.match_type}, ${h.state}`))),
      el("h4", {}, `History (${context.prior_alerts.length})`),
      el("ul", {}, context.prior_alerts.map((p) => el("li", {}, `${p.title} · ${new Date(p.first_trigger_time).toLocaleDateString()}`))),
      el("h4", {}, "Log"),
      el("ul", {}, alert.notes.map((n) => el("li", {}, `${new Date(n.time).toLocaleTimeString()} ${n.subject || "platform"}: ${n.text}`))),
    );
  }

  function follow() {
    if (closed) return;
    source = new EventSource(`/api/alerts/stream?after=${sequence}&access_token=${encodeURIComponent(token())}`);
    source.addEventListener("open", () => { status.textContent = "live"; });
    source.addEventListener("alert", (event) => {
      sequence = Math.max(sequence, Number(event.lastEventId) || 0);
      const { alert } = JSON.parse(event.data);
      alerts.set(alert.id, alert);
      renderList();
      if (selected === alert.id) select(alert.id);
    });
    source.addEventListener("error", () => {
      status.textContent = "reconnecting…";
      source.close();
      setTimeout(follow, 2000); // resumes after `sequence`: nothing is lost
    });
  }

  api("/api/alerts").then((body) => {
    for (const alert of body.alerts) alerts.set(alert.id, alert);
    sequence = body.sequence;
    renderList();
    follow();
  }).catch((error) => { status.textContent = error.message; });

  return {
    close() { closed = true; if (source) source.close(); },
    select,
  };
}
