// The demo host page: what a host product does to embed Sideline's panel.
(() => {
  "use strict";
  const frame = document.getElementById("panel");
  const panelOrigin = new URL(frame.src).origin;
  const who = document.getElementById("as");

  async function giveToken() {
    // The host's own backend mints a short-lived token for its signed-in user.
    const r = await fetch("/token?as=" + encodeURIComponent(who.value));
    const { token } = await r.json();
    frame.contentWindow.postMessage({ type: "sideline:token", token }, panelOrigin);
  }
  window.addEventListener("message", (ev) => {
    if (ev.origin !== panelOrigin || !ev.data) return;
    if (ev.data.type === "sideline:ready" || ev.data.type === "sideline:token-expired") giveToken();
  });
  who.addEventListener("change", () => { frame.src = frame.src; }); // reload: the panel asks again

  const $ = (id) => document.getElementById(id);
  async function refresh() {
    try {
      const m = await (await fetch("/match")).json();
      $("home-name").textContent = m.home; $("away-name").textContent = m.away;
      $("home-score").textContent = m.score[0]; $("away-score").textContent = m.score[1];
      $("minute").textContent = m.minute + "'"; $("phase").textContent = m.phase;
      $("events").replaceChildren(...m.events.slice().reverse().map((e) => {
        const li = document.createElement("li");
        li.className = e.kind;
        li.textContent = `${e.minute}'  ${e.text}`;
        return li;
      }));
    } catch (e) { /* the demo server is restarting */ }
  }
  refresh();
  setInterval(refresh, 1000);
})();
