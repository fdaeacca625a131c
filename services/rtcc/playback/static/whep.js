// A small WHEP client: one receive-only video section, offer sent once ICE
// gathering is complete (the server does not take trickled candidates).
"use strict";

function iceGathered(pc, timeoutMs) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") done();
    });
  });
}

// `codecs` (optional): MIME types to offer, e.g. ["video/VP8"] to force a transcode.
async function whepPlay(url, token, video, codecs) {
  const pc = new RTCPeerConnection();
  const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
  if (codecs) {
    const all = RTCRtpReceiver.getCapabilities("video").codecs;
    transceiver.setCodecPreferences(all.filter((c) => codecs.includes(c.mimeType)));
  }
  pc.ontrack = (event) => {
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  const timing = { start: performance.now() }; // phases, for benchmarks
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc, 2000);
  timing.gathered = performance.now() - timing.start;
  // Too many offers at once (a wall opened a session per tile): wait as told, a few times.
  let response;
  for (let attempt = 0; ; attempt++) {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + token },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 429 || attempt >= 5) break;
    const wait = Number(response.headers.get("Retry-After")) || 1;
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
  if (response.status !== 201) {
    pc.close();
    let message = response.statusText;
    try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  timing.answered = performance.now() - timing.start;
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") timing.connected = performance.now() - timing.start;
  });
  const location = response.headers.get("Location");
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  // DELETE first: closing the peer first lets the server see the connection fail and
  // close the session itself, and the DELETE then finds nothing (404).
  const stop = async () => {
    try {
      await fetch(location, { method: "DELETE", headers: { Authorization: "Bearer " + token } });
    } finally {
      pc.close();
    }
  };
  return { pc, location, sessionId: response.headers.get("X-Session-Id"), stop, timing };
}

// A whole video wall on one peer connection (the server's WHEP extension POST
// /whep/wall): one recvonly video section per camera, in the cameras' order; the
// answer says per tile whether it plays ({ mid, camera_id, state, status, error }).
// `videos[i]` shows cameraIds[i]. `stream` "sub" asks small tiles' sub streams (the
// server starts a tile on the main stream when the sub one is not connected yet).
async function whepWall(cameraIds, token, videos, stream) {
  const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle" });
  const transceivers = cameraIds.map(() => pc.addTransceiver("video", { direction: "recvonly" }));
  // Only what the server sends (H.264, VP8, and RTX to resend lost packets): a third of
  // the offer's size, for sixteen sections.
  const wanted = ["video/H264", "video/VP8", "video/rtx"];
  const codecs = RTCRtpReceiver.getCapabilities("video").codecs.filter((c) => wanted.includes(c.mimeType));
  for (const t of transceivers) t.setCodecPreferences(codecs);
  pc.ontrack = (event) => {
    const at = transceivers.indexOf(event.transceiver);
    if (at >= 0) videos[at].srcObject = new MediaStream([event.track]);
  };
  const timing = { start: performance.now() };
  await pc.setLocalDescription(await pc.createOffer());
  await iceGathered(pc, 2000);
  timing.gathered = performance.now() - timing.start;
  const query = "cameras=" + cameraIds.map(encodeURIComponent).join(",") + (stream === "sub" ? "&stream=sub" : "");
  let response;
  try {
    response = await fetch("/whep/wall?" + query, {
      method: "POST",
      headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + token },
      body: pc.localDescription.sdp,
    });
  } catch (error) {
    pc.close();
    throw error;
  }
  if (response.status !== 201) {
    pc.close();
    let message = response.statusText;
    try { message = (await response.json()).error; } catch (e) { /* not JSON */ }
    throw Object.assign(new Error(message), { status: response.status });
  }
  timing.answered = performance.now() - timing.start;
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") timing.connected = performance.now() - timing.start;
  });
  const location = response.headers.get("Location");
  const sessionId = response.headers.get("X-Session-Id");
  const byMid = new Map(JSON.parse(response.headers.get("X-Wall-Tiles") || "[]").map((t) => [t.mid, t]));
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  const tiles = transceivers.map((t, i) => Object.assign({ camera_id: cameraIds[i] }, byMid.get(t.mid) || { state: "refused", error: "not answered" }, { mid: t.mid }));
  let stopping = null;
  const stop = () => {
    if (!stopping) {
      stopping = fetch(location, { method: "DELETE", headers: { Authorization: "Bearer " + token } })
        .catch(() => {}).finally(() => pc.close());
    }
    return stopping;
  };
  // Move one tile to the main or sub stream (the server switches at a keyframe).
  const setStream = (mid, which) => fetch("/api/sessions/" + encodeURIComponent(sessionId) + "/control", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
    body: JSON.stringify({ action: "stream", mid, stream: which }),
  });
  return { pc, location, sessionId, tiles, stop, setStream, timing };
}

// Frames decoded by a peer connection; with `mid`, by that one video section only.
async function framesDecoded(pc, mid) {
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video" && (mid === undefined || s.mid === mid)) frames += s.framesDecoded || 0;
  });
  return frames;
}
