// Webcam -> /api/v1/stream -> boxes, track ids, top emotion and a per-track emotion bar.
// Frames go as binary JPEG messages at up to TARGET_FPS; the server analyses the newest
// one and reports the skipped ones as `dropped`. No third-party code.
(function () {
  "use strict";
  const TARGET_FPS = 15;
  const COLOURS = {
    angry: "#d7263d", disgust: "#6a994e", fear: "#7b2cbf", happy: "#f4a261",
    neutral: "#8d99ae", sad: "#277da1", surprise: "#f9c74f",
  };
  const $ = (id) => document.getElementById(id);
  const video = $("video"), overlay = $("overlay"), ctx = overlay.getContext("2d");
  const grab = document.createElement("canvas");
  grab.width = 640; grab.height = 480;
  let socket = null, stream = null, timer = null, sentAt = [], answers = [], droppedTotal = 0;

  function status(text) { $("status").textContent = text; }

  function refuse(code, message) {
    const box = $("refusal");
    box.hidden = false;
    box.textContent = "";
    const strong = document.createElement("strong");
    strong.textContent = code;
    box.append(strong, ": " + message);
    status("refused");
  }

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  async function streamToken() {
    const response = await fetch("/api/v1/stream-tokens", {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    });
    const body = await response.json();
    if (!response.ok) {
      refuse(body.error.code, body.error.message);
      return null;
    }
    return body.token;
  }

  function sendFrame() {
    if (!socket || socket.readyState !== WebSocket.OPEN || video.readyState < 2) return;
    if (socket.bufferedAmount > 2 * 1024 * 1024) return; // the network is the bottleneck
    grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
    grab.toBlob((blob) => {
      if (!blob || !socket || socket.readyState !== WebSocket.OPEN) return;
      sentAt.push(performance.now());
      socket.send(blob);
    }, "image/jpeg", 0.8);
  }

  function draw(message) {
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const list = $("tracks");
    list.textContent = "";
    for (const face of message.faces) {
      const [x1, y1, x2, y2] = face.box;
      const label = face.smoothed.label;
      const colour = COLOURS[label] || "#fff";
      ctx.lineWidth = 3;
      ctx.strokeStyle = colour;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      const text = `#${face.track_id} ${label} ${Math.round(face.smoothed.confidence * 100)}%`;
      ctx.font = "bold 16px system-ui, sans-serif";
      const width = ctx.measureText(text).width + 8;
      ctx.fillStyle = colour;
      ctx.fillRect(x1, Math.max(0, y1 - 22), width, 22);
      ctx.fillStyle = "#111";
      ctx.fillText(text, x1 + 4, Math.max(16, y1 - 6));
      // The per-track emotion bar: one segment per emotion, as wide as its probability.
      let left = x1;
      const barWidth = Math.max(60, x2 - x1);
      for (const [emotion, p] of Object.entries(face.smoothed.emotions)) {
        ctx.fillStyle = COLOURS[emotion] || "#ccc";
        ctx.fillRect(left, y2 + 4, p * barWidth, 8);
        left += p * barWidth;
      }
      const item = document.createElement("li");
      item.dataset.track = face.track_id;
      item.textContent = `track ${face.track_id}: ${label} (${Math.round(face.smoothed.confidence * 100)}%)`;
      list.append(item);
    }
    $("faces").textContent = String(message.faces.length);
  }

  function onResult(message) {
    const now = performance.now();
    const sent = sentAt[message.seq - 1];
    answers.push(now);
    answers = answers.filter((t) => now - t < 1000);
    droppedTotal = message.dropped_total;
    $("fps").textContent = String(answers.length);
    if (sent !== undefined) $("latency").textContent = `${Math.round(now - sent)} ms`;
    $("dropped").textContent = String(droppedTotal);
    overlay.dataset.frames = String((Number(overlay.dataset.frames) || 0) + 1);
    draw(message);
  }

  async function start() {
    $("start").disabled = true;
    status("starting camera");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    } catch (error) {
      refuse("camera_unavailable", String(error));
      $("start").disabled = false;
      return;
    }
    video.srcObject = stream;
    const token = await streamToken();
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const consent = $("consent").checked ? "&consent=given" : "";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/stream?token=${encodeURIComponent(token)}${consent}`);
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "ready") {
        status("streaming");
        sentAt = [];
        timer = setInterval(sendFrame, 1000 / TARGET_FPS);
      } else if (message.type === "result") {
        onResult(message);
      } else if (message.type === "error" && message.seq === undefined) {
        refuse(message.code, message.message); // the stream was refused or closed
      }
    });
    socket.addEventListener("close", (event) => {
      clearInterval(timer);
      if (event.code !== 1000 && $("status").textContent !== "refused") status(`closed (${event.code})`);
      $("start").disabled = false;
      $("stop").disabled = true;
    });
    $("stop").disabled = false;
  }

  function stop() {
    clearInterval(timer);
    if (socket) socket.close(1000);
    if (stream) stream.getTracks().forEach((track) => track.stop());
    socket = null;
    status("stopped");
  }

  $("start").addEventListener("click", start);
  $("stop").addEventListener("click", stop);
})();
