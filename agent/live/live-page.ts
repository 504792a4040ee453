import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The operator page for live view, served by the agent itself (the box is often offline: no CDN).
 * It holds nothing secret: the security token is typed in and kept in sessionStorage only, and
 * buys a single-use ticket for each viewing. Scripts and styles come from the agent only, so the
 * Content-Security-Policy below allows no inline code and no other origin; 'wasm-unsafe-eval' lets
 * JSMpeg compile its WebAssembly decoder and allows no JavaScript eval.
 */
export const LIVE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** phoboslab's JSMpeg, as @cycjimmy/jsmpeg-player ships it for browsers (UMD, global `JSMpeg`). */
export function jsmpegScript(): Buffer {
  // The package's exports map names only its CommonJS and ES builds; the browser build sits beside them.
  const main = createRequire(import.meta.url).resolve('@cycjimmy/jsmpeg-player');
  return readFileSync(join(dirname(main), 'jsmpeg-player.umd.min.js'));
}

export const LIVE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>camwarden live view</title>
<link rel="icon" href="/live/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/live/live.css">
<script src="/live/jsmpeg.min.js" defer></script>
<script src="/live/live.js" defer></script>
</head>
<body data-state="idle">
<main>
<h1>Live view</h1>
<p class="note">For the <code>security</code> role only. A camera can be watched only while a current notice (sign) covers it;
every viewing is recorded in the audit log, and it stops by itself when the notice expires or is withdrawn.</p>
<form id="form" autocomplete="off">
<label>Security token <input id="token" type="password" required autocomplete="off" spellcheck="false"></label>
<label>Camera <input id="camera" list="cameras" required maxlength="63" spellcheck="false"></label>
<datalist id="cameras"></datalist>
<button id="watch" type="submit">Watch</button>
<button id="stop" type="button" disabled>Stop</button>
</form>
<p id="status" role="status" aria-live="polite">Enter the security token and a camera.</p>
<div id="screen"><canvas id="video" width="640" height="360"></canvas></div>
</main>
</body>
</html>
`;

export const LIVE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2e9d4f"/><circle cx="8" cy="8" r="3.5" fill="#fff"/></svg>
`;

export const LIVE_CSS = `body { font: 16px/1.4 system-ui, sans-serif; margin: 0; background: #111; color: #eee; }
main { max-width: 1320px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; }
.note { color: #bbb; font-size: .9rem; }
form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: 1rem 0; }
label { display: flex; flex-direction: column; font-size: .85rem; gap: .25rem; }
input { font: inherit; padding: .35rem .5rem; min-width: 16rem; }
button { font: inherit; padding: .4rem 1rem; cursor: pointer; }
#status { padding: .5rem .75rem; border-left: 4px solid #666; background: #1c1c1c; }
body[data-state="playing"] #status { border-color: #2e9d4f; }
body[data-state="ended"] #status, body[data-state="error"] #status { border-color: #d9822b; background: #2a1d10; font-weight: 600; }
#screen canvas { display: block; max-width: 100%; background: #000; margin-top: 1rem; }
`;

export const LIVE_JS = `'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var tokenEl = $('token'), cameraEl = $('camera'), statusEl = $('status'), watchBtn = $('watch'), stopBtn = $('stop');
  var params = new URLSearchParams(location.search);
  var useGl = params.get('gl') !== '0';
  var ENDED = {
    'viewer-closed': 'Live view stopped.',
    'notice-expired': 'Live view cut: the notice (sign) covering this camera has expired.',
    'notice-withdrawn': 'Live view cut: the notice (sign) covering this camera was withdrawn.',
    'gate-closed': 'Live view cut: the camera may no longer capture.',
    'agent-stopping': 'Live view cut: the agent is stopping.',
    'stream-failed': 'Live view cut: the camera stream failed.'
  };
  var player = null, current = null;

  tokenEl.value = sessionStorage.getItem('camwarden.token') || '';
  if (params.get('camera')) cameraEl.value = params.get('camera');

  function setState(state, text, reason) {
    document.body.dataset.state = state;
    statusEl.textContent = text;
    statusEl.dataset.reason = reason || '';
  }

  function api(method, path) {
    return fetch(path, { method: method, headers: { authorization: 'Bearer ' + tokenEl.value.trim() }, cache: 'no-store' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new Error((body.code || ('HTTP ' + r.status)) + ': ' + (body.message || r.statusText));
          return body;
        });
      });
  }

  function loadCameras() {
    if (!tokenEl.value.trim()) return;
    api('GET', '/v1/live').then(function (list) {
      var dl = $('cameras');
      dl.textContent = '';
      list.forEach(function (c) {
        var o = document.createElement('option');
        o.value = c.id;
        o.label = (c.name || c.id) + (c.available ? '' : ' (not available: ' + c.reason + ')');
        dl.appendChild(o);
      });
    }).catch(function () { /* the camera can still be typed in */ });
  }

  /** A JSMpeg source: the agent's WebSocket, node-rtsp-stream's 8-byte header first, then MPEG-TS. */
  function LiveSource(url, options) {
    this.url = url; this.options = options; this.destination = null; this.socket = null;
    this.streaming = true; this.established = false; this.completed = false; this.progress = 0;
  }
  LiveSource.prototype.connect = function (destination) { this.destination = destination; };
  LiveSource.prototype.start = function () {
    var self = this, view = this.options.view;
    var ws = this.socket = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () { view.opened = true; self.progress = 1; };
    ws.onmessage = function (ev) {
      var data = ev.data;
      if (!view.header && data.byteLength === 8) {
        var b = new DataView(data);
        if (b.getUint32(0) === 0x6a736d70) { view.header = { width: b.getUint16(4), height: b.getUint16(6) }; return; }
      }
      self.established = true;
      if (self.destination) self.destination.write(data);
    };
    ws.onclose = function (ev) { view.onClose(ev); };
  };
  LiveSource.prototype.resume = function () {};
  LiveSource.prototype.destroy = function () {
    if (this.socket && this.socket.readyState <= 1) this.socket.close(1000, 'viewer-closed');
  };

  function freshCanvas() {
    var c = document.createElement('canvas');
    c.id = 'video'; c.width = 640; c.height = 360;
    $('screen').replaceChildren(c);
    return c;
  }

  function finish(state, text, reason) {
    var p = player;
    player = null; current = null;
    if (p) { try { p.destroy(); } catch (e) { /* already gone */ } }
    freshCanvas(); // nothing of the picture stays on screen once the session is over
    watchBtn.disabled = false; stopBtn.disabled = true;
    setState(state, text, reason);
  }

  function watch(ev) {
    ev.preventDefault();
    if (current) return;
    var camera = cameraEl.value.trim();
    sessionStorage.setItem('camwarden.token', tokenEl.value.trim());
    watchBtn.disabled = true;
    setState('connecting', 'Asking the agent for camera ' + camera + '…');
    var t0 = performance.now();
    api('POST', '/v1/cameras/' + encodeURIComponent(camera) + '/live').then(function (t) {
      var view = current = { camera: camera, opened: false, header: null, frames: 0, userStopped: false };
      view.onClose = function (e) {
        if (current !== view) return;
        if (!view.opened) return finish('error', 'The agent refused the stream (the ticket was used or expired). Try again.', 'refused');
        var reason = e.reason || (view.userStopped ? 'viewer-closed' : '');
        finish('ended', (ENDED[reason] || ('Live view ended (' + e.code + ').')) , reason || ('code-' + e.code));
      };
      var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + t.url;
      setState('connecting', 'Connecting to camera ' + camera + '…');
      player = new JSMpeg.Player(url, {
        canvas: freshCanvas(), source: LiveSource, view: view, audio: false, disableGl: !useGl,
        pauseWhenHidden: false, videoBufferSize: 2 * 1024 * 1024,
        onVideoDecode: function () {
          view.frames += 1;
          if (view.frames === 1) {
            var ms = Math.round(performance.now() - t0);
            statusEl.dataset.firstFrameMs = String(ms);
            setState('playing', 'Live: camera ' + camera + (view.header ? ' (' + view.header.width + '×' + view.header.height + ')' : '') + '. First picture after ' + ms + ' ms.');
          }
        }
      });
      stopBtn.disabled = false;
    }).catch(function (e) {
      current = null;
      watchBtn.disabled = false;
      setState('error', 'Refused: ' + e.message, 'refused');
    });
  }

  $('form').addEventListener('submit', watch);
  stopBtn.addEventListener('click', function () {
    if (!current) return;
    current.userStopped = true;
    if (player) player.source.destroy();
  });
  tokenEl.addEventListener('change', loadCameras);
  loadCameras();
})();
`;
