// The Cases view, as a self-contained module the console mounts (owned by evidence).
//
//   import { mountCases } from "/static/cases.js";
//   const view = mountCases(document.querySelector("#cases"), {
//     token: () => accessToken,           // a function returning the bearer token
//     cameras: () => [{id, display_name}], // optional: cameras for the export form
//     onCamera: (camera, mode) => {},     // optional: play a clip's camera at its time
//   });
//   view.select(caseId); view.close();
//
// It reads the evidence JSON API (docs/evidence.md): cases, items, timeline, custody log
// and its verification, clip exports with progress, court packages, the share dialog
// and partner requests. No framework, no globals; styles are scoped under .rtcc-cases.

const STYLE = `
.rtcc-cases { display: grid; grid-template-columns: 18rem 1fr; gap: 1rem; font: 14px system-ui, sans-serif; }
.rtcc-cases section { border: 1px solid #d0d5db; border-radius: 6px; padding: .6rem .8rem; margin-bottom: .8rem; }
.rtcc-cases h3 { margin: 0 0 .4rem; font-size: 1rem; }
.rtcc-cases ul { list-style: none; margin: 0; padding: 0; }
.rtcc-cases li.case { padding: .3rem; cursor: pointer; border-radius: 4px; }
.rtcc-cases li.case.selected { background: #e6eefc; }
.rtcc-cases .muted { color: #6b7280; } .rtcc-cases .error { color: #b00020; }
.rtcc-cases .ok { color: #0a7a2f; } .rtcc-cases code { font-size: 11px; word-break: break-all; }
.rtcc-cases progress { width: 8rem; } .rtcc-cases input, .rtcc-cases select { margin: .15rem .3rem .15rem 0; }
.rtcc-cases table { border-collapse: collapse; width: 100%; } .rtcc-cases td { border-bottom: 1px solid #eee; padding: .2rem .3rem; vertical-align: top; }
`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function short(name) {
  return String(name || "").replace(/^(CUSTODY_ACTION_|ITEM_KIND_|ITEM_STATE_|EXPORT_JOB_STATE_|EVIDENCE_REQUEST_STATE_|SHARE_LINK_STATE_)/, "").toLowerCase().replace(/_/g, " ");
}

function iso(local) {
  return local ? new Date(local).toISOString() : "";
}

export function mountCases(root, options = {}) {
  const token = options.token || (() => "");
  let selected = "";
  let closed = false;
  const timers = new Set();

  async function call(method, body = {}) {
    const answer = await fetch(`/api/evidence/v1/${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token()}` },
      body: JSON.stringify(body),
    });
    const data = await answer.json();
    if (!answer.ok) throw new Error(data.error || `${method} failed (${answer.status})`);
    return data;
  }

  async function get(path) {
    const answer = await fetch(`/api/evidence/v1/${path}`, { headers: { Authorization: `Bearer ${token()}` } });
    if (!answer.ok) throw new Error((await answer.json()).error || `${path} failed`);
    return answer;
  }

  function guarded(target, run) {
    return async (event) => {
      if (event) event.preventDefault();
      target.textContent = "";
      target.classList.remove("error", "ok");
      try { await run(); } catch (error) { target.textContent = error.message; target.classList.add("error"); }
    };
  }

  const style = el("style", {}, STYLE);
  const list = el("ul", { class: "cases" });
  const search = el("input", { placeholder: "search cases", class: "search" });
  const listError = el("p", { class: "error" });
  const detail = el("div", { class: "detail" }, el("p", { class: "muted" }, "Select or open a case."));
  const form = el("form", { class: "new-case" },
    el("input", { name: "title", placeholder: "title", required: "" }),
    el("input", { name: "number", placeholder: "case number" }),
    el("input", { name: "type", placeholder: "type, e.g. homicide" }),
    el("input", { name: "alerts", placeholder: "linked alert ids" }),
    el("button", { type: "submit" }, "Open case"));
  form.addEventListener("submit", guarded(listError, async () => {
    const data = new FormData(form);
    const alerts = String(data.get("alerts") || "").split(/[\s,]+/).filter(Boolean);
    const made = await call("CreateCase", { case: { title: data.get("title"), caseNumber: data.get("number"),
      caseType: data.get("type"), linkedAlertIds: alerts } });
    form.reset();
    await refresh();
    await select(made.case.id);
  }));
  search.addEventListener("input", () => refresh());
  root.replaceChildren(el("div", { class: "rtcc-cases" }, style,
    el("div", {}, el("section", {}, el("h3", {}, "Cases"), search, list, listError), el("section", {}, el("h3", {}, "New case"), form)),
    detail));

  async function refresh() {
    try {
      const data = await call("ListCases", { text: search.value });
      list.replaceChildren(...(data.cases || []).map((c) => el("li", {
        class: "case" + (c.id === selected ? " selected" : ""), "data-case": c.id, onclick: () => select(c.id),
      }, el("strong", {}, c.caseNumber || c.id), " ", c.title, c.legalHold && c.legalHold.active ? " (hold)" : "")));
    } catch (error) {
      listError.textContent = error.message;
    }
  }

  async function select(caseId) {
    selected = caseId;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const li of list.children) li.classList.toggle("selected", li.dataset.case === caseId);
    const data = await call("GetCase", { caseId });
    renderCase(data.case);
  }

  function renderCase(c) {
    const message = el("p", { class: "message" });
    const hold = c.legalHold || {};
    const holdReason = el("input", { placeholder: "reason", class: "hold-reason" });
    const holdButton = el("button", { class: "hold", onclick: guarded(message, async () => {
      await call("SetLegalHold", { caseId: c.id, active: !hold.active, reason: holdReason.value || "console" });
      await select(c.id);
    }) }, hold.active ? "Release hold" : "Place legal hold");
    const items = el("table", { class: "items" });
    const jobs = el("div", { class: "jobs" });
    const timeline = el("ul", { class: "timeline" });
    const custody = el("table", { class: "custody" });
    const verdict = el("p", { class: "verdict" });
    const links = el("div", { class: "links" });
    const requests = el("div", { class: "requests" });
    detail.replaceChildren(
      el("section", {}, el("h3", {}, `${c.caseNumber || c.id}: ${c.title}`),
        el("p", { class: "muted" }, `${short(c.state)} · ${c.caseType || "no type"} · retention ${c.retentionCategory} · members ${(c.members || []).join(", ") || "none"}`),
        el("p", {}, hold.active ? `Under legal hold: ${hold.reason} (by ${hold.actor && hold.actor.subject})` : "No legal hold. ", holdReason, holdButton),
        (c.linkedAlertIds || []).length ? el("p", {}, "Alerts: ", c.linkedAlertIds.join(", ")) : null, message),
      el("section", {}, el("h3", {}, "Items"), items, noteForm(c, message), uploadForm(c, message)),
      el("section", {}, el("h3", {}, "Export clips"), exportForm(c, message), jobs),
      el("section", {}, el("h3", {}, "Timeline"), timeline),
      el("section", {}, el("h3", {}, "Chain of custody"), el("button", { class: "verify", onclick: guarded(verdict, async () => {
        const v = await call("VerifyCustodyChain", { caseId: c.id });
        verdict.classList.add(v.valid ? "ok" : "error");
        verdict.textContent = v.valid ? `Intact: ${v.treeSize} entries, Merkle root ${v.rootHash}` : `BROKEN at entry ${v.firstInvalidSequence}`;
      }) }, "Verify"), " ", packageButton(c, message), verdict, custody),
      el("section", {}, el("h3", {}, "Share"), shareForm(c, links), links),
      el("section", {}, el("h3", {}, "Partner requests"), requestForm(c, requests), requests));
    loadItems(c, items);
    loadJobs(c, jobs);
    loadTimeline(c, timeline, custody);
    loadRequests(c, requests);
  }

  async function loadItems(c, table) {
    const data = await call("ListItems", { caseId: c.id });
    table.replaceChildren(...(data.items || []).map((item) => el("tr", { "data-item": item.id },
      el("td", {}, item.displayName), el("td", {}, short(item.kind)), el("td", { class: "state" }, short(item.state)),
      el("td", {}, el("code", {}, item.sha256 || "")),
      el("td", {}, item.state === "ITEM_STATE_READY" && options.onCamera && item.clip
        ? el("button", { onclick: () => options.onCamera({ camera_id: item.clip.cameraId,
          recording_url: `/whep/cameras/${item.clip.cameraId}?start=${item.clip.timeRange.startTime}` }, "recorded") }, "Play")
        : null))));
  }

  async function loadJobs(c, box, wasRunning = 0) {
    const data = await call("ListExportJobs", { caseId: c.id });
    const running = (data.exportJobs || []).filter((j) => ["EXPORT_JOB_STATE_QUEUED", "EXPORT_JOB_STATE_RUNNING"].includes(j.state));
    box.replaceChildren(...(data.exportJobs || []).map((j) => el("p", { "data-job": j.id },
      `${j.clip.cameraId}: ${short(j.state)} `, el("progress", { max: "1", value: String(j.progress || 0) }),
      (j.gaps || []).length ? ` ${j.gaps.length} gap(s)` : "", j.error ? el("span", { class: "error" }, ` ${j.error}`) : null)));
    if (running.length < wasRunning && selected === c.id) {
      loadItems(c, detail.querySelector("table.items"));  // an export finished
    }
    if (running.length && !closed) {  // poll progress while exports run
      const timer = setTimeout(() => { timers.delete(timer); if (selected === c.id) loadJobs(c, box, running.length); }, 1000);
      timers.add(timer);
    }
  }

  async function loadTimeline(c, list, table) {
    const data = await (await get(`cases/${c.id}/timeline`)).json();
    list.replaceChildren(...data.events.filter((e) => e.kind === "item").map((e) =>
      el("li", {}, `${e.time} ${short(e.itemKind)}: ${e.title}`)));
    table.replaceChildren(...data.events.filter((e) => e.kind === "custody").map((e) => el("tr", { "data-sequence": String(e.sequence) },
      el("td", {}, String(e.sequence)), el("td", {}, e.time), el("td", { class: "action" }, short(e.action)),
      el("td", {}, e.actor), el("td", {}, e.detail))));
  }

  function noteForm(c, message) {
    const text = el("input", { placeholder: "note", class: "note-text" });
    return el("form", { class: "note", onsubmit: guarded(message, async () => {
      await call("CreateItem", { caseId: c.id, item: { displayName: "note", note: { text: text.value } } });
      await select(c.id);
    }) }, text, el("button", { type: "submit" }, "Add note"));
  }

  function uploadForm(c, message) {
    const input = el("input", { type: "file", class: "upload" });
    input.addEventListener("change", guarded(message, async () => {
      for (const file of input.files) {
        const body = await file.arrayBuffer();
        const digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", body)), (b) => b.toString(16).padStart(2, "0")).join("");
        const answer = await fetch(`/api/evidence/v1/cases/${c.id}/files`, { method: "POST", body,
          headers: { Authorization: `Bearer ${token()}`, "Content-Type": file.type || "application/octet-stream",
            "X-File-Name": encodeURIComponent(file.name), "X-Content-SHA256": digest } });
        if (!answer.ok) throw new Error((await answer.json()).error);
      }
      await select(c.id);
    }));
    return el("p", {}, "Upload: ", input);
  }

  function exportForm(c, message) {
    const cams = (options.cameras ? options.cameras() : []) || [];
    const picker = cams.length
      ? el("select", { multiple: "", class: "cameras" }, ...cams.map((cam) => el("option", { value: cam.id }, cam.display_name || cam.id)))
      : el("input", { placeholder: "camera ids, comma separated", class: "cameras" });
    const start = el("input", { type: "datetime-local", step: "1", class: "start" });
    const end = el("input", { type: "datetime-local", step: "1", class: "end" });
    return el("form", { onsubmit: guarded(message, async () => {
      const ids = picker.tagName === "SELECT" ? Array.from(picker.selectedOptions, (o) => o.value) : picker.value.split(/[\s,]+/).filter(Boolean);
      for (const cameraId of ids) {
        await call("ExportClip", { caseId: c.id, clip: { cameraId, timeRange: { startTime: iso(start.value), endTime: iso(end.value) } } });
      }
      await select(c.id);
    }) }, picker, start, end, el("button", { type: "submit" }, "Export"));
  }

  function packageButton(c, message) {
    return el("button", { class: "package", onclick: guarded(message, async () => {
      const built = await call("ExportPackage", { caseId: c.id, purpose: "console export" });
      const blob = await (await get(`cases/${c.id}/packages/${built.packageId}.zip`)).blob();
      const link = el("a", { href: URL.createObjectURL(blob), download: `${c.caseNumber || c.id}.zip` }, `Download package (${built.itemCount} items, SHA-256 ${built.sha256})`);
      message.replaceChildren(link);
    }) }, "Export court package");
  }

  function shareForm(c, box) {
    const who = el("input", { placeholder: "recipient name", class: "recipient" });
    const mail = el("input", { placeholder: "e-mail", class: "recipient-email" });
    const hours = el("input", { type: "number", value: "72", min: "1", max: "2160", class: "hours" });
    const download = el("input", { type: "checkbox", class: "allow-download" });
    const passcode = el("input", { type: "password", placeholder: "passcode (optional)", class: "passcode" });
    return el("form", { class: "share", onsubmit: guarded(box, async () => {
      const expire = new Date(Date.now() + Number(hours.value) * 3600e3).toISOString();
      const made = await call("CreateShareLink", { caseId: c.id, password: passcode.value,
        shareLink: { recipient: who.value, recipientEmail: mail.value, expireTime: expire, allowDownload: download.checked } });
      box.replaceChildren(el("p", {}, "Link (shown once): ", el("code", { class: "share-url" }, made.url),
        " ", el("button", { onclick: guarded(box, async () => {
          await call("RevokeShareLink", { shareLinkId: made.shareLink.id, reason: "revoked in the console" });
          box.replaceChildren(el("p", { class: "muted" }, "Revoked."));
        }) }, "Revoke")));
    }) }, who, mail, "hours ", hours, el("label", {}, download, "download"), passcode, el("button", { type: "submit" }, "Create link"));
  }

  function requestForm(c, box) {
    const org = el("input", { placeholder: "partner organisation id" });
    const mail = el("input", { placeholder: "partner e-mail" });
    const camera = el("input", { placeholder: "camera id" });
    const start = el("input", { type: "datetime-local", step: "1" });
    const end = el("input", { type: "datetime-local", step: "1" });
    const reason = el("input", { placeholder: "reason" });
    return el("form", { class: "request", onsubmit: guarded(box, async () => {
      await call("CreateEvidenceRequest", { evidenceRequest: { caseId: c.id, partnerOrganizationId: org.value,
        partnerContactEmail: mail.value, reason: reason.value,
        clips: [{ cameraId: camera.value, timeRange: { startTime: iso(start.value), endTime: iso(end.value) } }] } });
      await loadRequests(c, box);
    }) }, org, mail, camera, start, end, reason, el("button", { type: "submit" }, "Send request"));
  }

  async function loadRequests(c, box) {
    const data = await call("ListEvidenceRequests", { caseId: c.id });
    box.replaceChildren(...(data.evidenceRequests || []).map((r) => el("p", { "data-request": r.id },
      `${r.partnerOrganizationId || r.partnerContactEmail}: ${short(r.state)} ${r.responseNote ? "— " + r.responseNote : ""}`)));
  }

  refresh();
  return {
    select,
    close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      root.replaceChildren();
    },
  };
}
