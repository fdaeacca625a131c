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
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/sdp", Authorization: "Bearer " + token },
    body: pc.localDescription.sdp,
  });
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

async function framesDecoded(pc) {
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0; });
  return frames;
}
