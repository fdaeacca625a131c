// Views that other services ship as console modules: static/alerts.js (alerting) and
// static/cases.js (evidence). /api/console lists the ones installed. Each is an ES
// module exporting mount<Name>(root, options) -> { close(), select?(id) }, e.g.
//
//   import { mountAlerts } from "/static/alerts.js";
//   mountAlerts(root, { token, onCamera(camera, mode), onSelect(alert, context) });
//
// options: token() the bearer token; onCamera(camera, "live"|"recorded") opens the
// camera page (a camera is {camera_id, recording_url: "/whep/cameras/<id>?start=<iso>"});
// onSelect(item, context) centres the map on it when it has a position; api(path, init),
// cameras(), cameraName(id) for anything else. The console adds the keyboard: "n" selects
// the next alert, "k" acknowledges the selected one (the module's own buttons).
"use strict";

(function () {
  const loaded = {};
  const mounted = {};

  function startOf(url) {
    try { return new URL(url, location.href).searchParams.get("start"); } catch (e) { return null; }
  }

  const options = {
    token: () => window.rtcc.token,
    api: (path, init) => window.rtcc.api(path, init),
    cameras: () => window.rtcc.cameras.map((c) => Object.assign({ display_name: c.name }, c)),
    cameraName: (id) => window.rtcc.cameraName(id),
    onCamera: (camera, mode) => {
      const id = camera.camera_id || camera.id;
      window.rtcc.playAt(id, mode === "recorded" ? startOf(camera.recording_url) || camera.time : null);
    },
    onSelect: (item) => {
      const lat = item.latitude ?? (item.location && item.location.latitude);
      const lng = item.longitude ?? (item.location && item.location.longitude);
      if (Number.isFinite(lat) && Number.isFinite(lng) && window.rtccMap && window.rtccMap.map) {
        window.rtccMap.map.setView([lat, lng], 18);
      }
    },
  };

  function load(name) {
    if (!loaded[name]) {
      const entry = "mount" + name[0].toUpperCase() + name.slice(1);
      loaded[name] = import(`/static/${name}.js`).then((module) => {
        if (typeof module[entry] !== "function") throw new Error(`${name}.js exports no ${entry}()`);
        mounted[name] = module[entry]($(name + "-mount"), options);
        return mounted[name];
      });
      loaded[name].catch((error) => {
        $(name + "-mount").replaceChildren(el("p", { class: "error" }, `The ${name} view failed to load: ${error.message}`));
      });
    }
    return loaded[name];
  }

  // "n": the next alert in the list (wrapping); "k": acknowledge the selected one.
  function alertKeys(event) {
    const root = $("alerts-mount");
    if (event.key === "n") {
      if (window.rtcc.current !== "alerts") { location.hash = "#/alerts"; return true; }
      const items = [...root.querySelectorAll("li")].filter((li) => li.closest("ul, ol") === root.querySelector("ul, ol"));
      if (!items.length) return true;
      const at = items.findIndex((li) => li.classList.contains("selected"));
      items[(at + 1) % items.length].click();
      return true;
    }
    if (event.key === "k" && window.rtcc.current === "alerts") {
      const ack = [...root.querySelectorAll("button")].find((b) => b.textContent.trim().toLowerCase() === "acknowledge");
      if (ack) ack.click();
      return true;
    }
    return false;
  }

  function view(name) {
    return {
      async enter() {
        await window.rtcc.stopPlayers();
        if ((window.rtcc.config.modules || []).includes(name)) await load(name).catch(() => {});
      },
      key(event) {
        return name === "alerts" && (window.rtcc.config.modules || []).includes("alerts") ? alertKeys(event) : false;
      },
    };
  }

  window.rtcc.views.alerts = view("alerts");
  window.rtcc.views.cases = view("cases");
})();
