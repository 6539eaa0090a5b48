// Sideline chat panel: plain JavaScript, no build step, no dependencies.
// Protocol: docs/protocol.md. Embedding: docs/embed.md.
(() => {
  "use strict";

  const ROOM = new URLSearchParams(location.search).get("room") || "";
  const PARENTS = JSON.parse(document.querySelector('meta[name="sideline-parents"]').content || "[]");
  const REACTIONS = ["👍", "🔥", "😂", "😮"];
  // Why a user reports a message: the report's `reason` (the review queue counts reporters).
  const REPORT_REASONS = [["abuse", "Abuse or hate"], ["spam", "Spam"], ["personal data", "Personal data"]];
  const AUTH_CLOSES = { 4001: "token_missing", 4002: "token_invalid", 4003: "token_expired", 4004: "token_algorithm", 4006: "auth_timeout" };
  const FATAL_CLOSES = new Set([4109]);
  const $ = (id) => document.getElementById(id);

  const s = {
    token: null, me: null, role: "viewer", mode: "open", maxLen: 500, maxReactions: Infinity,
    muted: false, mutedUntil: null, unmuteTimer: null, barred: null, inRoom: false, authFails: 0, askTimer: null,
    messages: new Map(), polls: new Map(), members: new Map(), count: 0,
    typing: new Map(), mine: new Map(), pos: null, ws: null, retry: 0, ping: null, heartbeat: 25, silent: null,
    typingOn: true, lastTyping: 0, toastTimer: null, toastMs: 0, toastHeld: false, joinedOnce: false,
    heard: [], heardTimer: null, // new messages to announce; the pause between two announcements
    heardStatus: null, dropTimer: null, dropSaid: null, dropTold: null, liveOnce: false, // the connection as announced (see said())
    pending: new Map(), refs: 0, // reacts sent and not answered yet, by ref
    unsure: [], // reacts whose answer was lost with their socket: the next joined settles them
    reporting: null, reported: new Set(), // the message whose report menu is open; those reported here
    replyTo: null, // the message the composer replies to
    follow: true, unread: new Set(), // the log stays at its bottom; messages that came while scrolled up
    olderDone: false, olderBusy: false, // nothing earlier than the first message shown; a page on its way
    sending: new Map(), // send frames not answered yet, by ref: sent again (same client_msg_id) after a reconnect
    toasts: 0, toastsBefore: new Map(), // notices shown so far; by a send's ref, how many before it
    pinned: null, pinnedMsg: null, // the pinned message's id; the message when it is not among those shown
    review: null, reviewOpen: false, reviewTimer: null, reviewGen: 0, reviewBusy: false, reviewAgain: false, deciding: new Set(), // moderators
  };

  // -- helpers ----------------------------------------------------------------------------------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text; // never innerHTML: user text stays text
    return node;
  }
  // User text is isolated from what surrounds it: a right-to-left name must not carry the
  // digits of the text after it into its run ("سارة" + "2-1 for Home" read "1-2سارة for Home").
  function isolated(cls, text) { return el("bdi", cls, text); }
  function autoDir(node) { node.dir = "auto"; return node; }
  function nameOf(m) { return m.name || m.user_id; }
  // Times the server writes as ISO 8601 in UTC ("until 2026-11-28T01:29:32.459728+00:00"), as
  // the user's own clock has them: "02:29" today, with the date on another day.
  const ISO_TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)/g;
  function parseTime(iso) {
    const d = new Date(iso.replace(/(\.\d{3})\d+/, "$1"));
    return isNaN(d) ? null : d;
  }
  function localTime(d) {
    return d.toDateString() === new Date().toDateString()
      ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function humanTimes(text) { return text.replace(ISO_TIME, (iso) => { const d = parseTime(iso); return d ? localTime(d) : iso; }); }
  function untilIn(message) {
    const m = /until (\S+)/.exec(message || "");
    return (m && parseTime(m[1])) || null;
  }
  function sentence(text, until) {
    return text[0].toUpperCase() + text.slice(1) + (until ? ` until ${localTime(until)}` : "") + ".";
  }
  // Cut at a character a reader sees (a grapheme: an emoji with its skin tone or family, a letter
  // with its accents), never inside one, so no half of a surrogate pair or sequence is read out.
  const GRAPHEMES = Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
  function clip(text, n) {
    if (text.length <= n) return text;
    let cut = 0;
    if (GRAPHEMES) {
      for (const { index, segment } of GRAPHEMES.segment(text)) {
        if (index + segment.length > n - 1) break;
        cut = index + segment.length;
      }
    } else {
      cut = /[\uD800-\uDBFF]/.test(text[n - 2]) ? n - 2 : n - 1;
    }
    return text.slice(0, cut) + "…";
  }

  // -- keyboard focus across redraws ---------------------------------------------------------------
  // Messages and polls are drawn afresh on every change (a count, a vote, a room setting). Each
  // control carries a key (data-key) and, where it may go, the key of the control to fall back
  // on (data-back): the focus is put back on the same control in the new drawing, else on its
  // fallback, else on the first control left in it, else on the container itself.
  function focusIn(root) {
    const a = document.activeElement;
    if (!a || a === root || !root.contains(a)) return null;
    return { key: a.dataset.key || "", back: a.dataset.back || "" };
  }
  function canFocus(node) {
    return !!node && node.isConnected && !node.disabled && !node.closest("[hidden]");
  }
  function byKey(root, key) { return key ? root.querySelector(`[data-key="${CSS.escape(key)}"]`) : null; }
  function refocus(root, had, last) {
    if (!had) return;
    const target = [byKey(root, had.key), byKey(root, had.back), ...root.querySelectorAll("button"), root, last]
      .find((n) => canFocus(n) && (n.tabIndex >= 0 || n.hasAttribute("tabindex")));
    if (target) target.focus({ preventScroll: true });
  }
  function send(frame) {
    if (!s.ws || s.ws.readyState !== WebSocket.OPEN) return false;
    s.ws.send(JSON.stringify(frame));
    return true;
  }
  function status(text, state) {
    $("status").textContent = text;
    $("panel").dataset.state = state;
    said(text, state);
  }
  // The connection, as heard (the status line itself is not live: every attempt would be read
  // out). A drop is announced once it has lasted DROP_HEARD_MS, whatever the attempts meanwhile,
  // and again only if what the line says changes (signed out, say); the return only after an
  // announced drop (one whose announcement is still waiting its turn is taken back instead).
  // The first connection counts as a drop from its first attempt: one made within seconds says
  // nothing, one refused or failing for longer is announced, and so is the connection that
  // follows. A final state (removed, not allowed on this page) is announced at once.
  const DROP_HEARD_MS = 5000;
  function said(text, state) {
    if (state === "live") {
      clearTimeout(s.dropTimer);
      s.dropTimer = null;
      if (s.dropSaid !== null && !unsay(s.dropTold)) tell(s.liveOnce ? "Chat connected again." : "Chat connected.");
      s.dropSaid = s.dropTold = null;
      s.liveOnce = true;
    } else if (state === "closed") {
      clearTimeout(s.dropTimer);
      s.dropTimer = null;
      s.dropSaid = s.dropTold = null;
      tell(`Chat: ${text}.`);
    } else if (s.dropSaid !== null) {
      if (text !== s.dropSaid) { s.dropSaid = text; tell(`Chat: ${text}`); }
    } else if (!s.dropTimer) {
      s.dropTimer = setTimeout(() => {
        s.dropTimer = null;
        s.dropSaid = $("status").textContent;
        s.dropTold = `${s.liveOnce ? "Chat connection lost" : "Chat"}: ${s.dropSaid}`;
        tell(s.dropTold);
      }, DROP_HEARD_MS);
    }
  }
  // A notice stays long enough to be read (10 s at least for an error, longer for a long one),
  // and for as long as the pointer or the focus is on it; ✕ dismisses it at once.
  function toast(text, kind) {
    const t = $("toast");
    t.textContent = text = humanTimes(text);
    if (text) s.toasts += 1;
    t.className = "toast" + (kind ? " " + kind : "");
    $("toast-close").hidden = !text;
    s.toastMs = Math.max(kind === "info" ? 6000 : 10000, 4000 + 90 * text.length);
    armToast();
  }
  function armToast() {
    clearTimeout(s.toastTimer);
    if (!s.toastHeld && $("toast").textContent) s.toastTimer = setTimeout(() => toast("", "info"), s.toastMs);
  }
  function holdToast(held) {
    s.toastHeld = held || $("notice").matches(":hover") || $("notice").contains(document.activeElement);
    armToast();
  }
  $("notice").addEventListener("mouseenter", () => holdToast(true));
  $("notice").addEventListener("mouseleave", () => holdToast(false));
  $("notice").addEventListener("focusin", () => holdToast(true));
  $("notice").addEventListener("focusout", () => setTimeout(() => holdToast(false)));
  $("toast-close").addEventListener("click", () => {
    toast("", "info");
    s.toastHeld = false;
    ($("composer").hidden ? $("log") : $("text")).focus();
  });
  // New messages from others, read out as "name: text" through #heard (the log itself is not
  // live), and the connection's changes (said()). At most one announcement every 2 s: a burst
  // is summed up with its latest message, and only the latest word on the connection is said.
  const HEARD_EVERY_MS = 2000;
  function announce(m) {
    if (s.me && m.user_id === s.me.user_id) return; // one's own: the composer just said it
    s.heard.push(m);
    if (!s.heardTimer) sayHeard();
  }
  function tell(text) {
    s.heardStatus = text;
    if (!s.heardTimer) sayHeard();
  }
  // Takes back `text` if it is the word on the connection not said yet; true if it was. (A later
  // word waiting its turn, "reconnecting…" after "signed out" say, is not taken back: the drop
  // was heard, so its end must be, and tell() puts that in its place.)
  function unsay(text) {
    if (text === null || s.heardStatus !== text) return false;
    s.heardStatus = null;
    return true;
  }
  function sayHeard() {
    const heard = s.heard.splice(0);
    const told = s.heardStatus;
    s.heardStatus = null;
    const any = heard.length || told !== null;
    s.heardTimer = any ? setTimeout(sayHeard, HEARD_EVERY_MS) : null;
    if (!any) return;
    const line = (m) => el("p", "", `${nameOf(m)}: ${clip(m.text, 200)}`);
    $("heard").replaceChildren(...(told !== null ? [el("p", "", told)] : []), ...(heard.length <= 3 ? heard.map(line)
      : [el("p", "", `${heard.length} new messages. The latest:`), line(heard[heard.length - 1])]));
  }
  function roomPath() {
    return "/v1/rooms/" + encodeURIComponent(ROOM).replace(/%3A/gi, ":");
  }
  function randomId() {
    const a = new Uint8Array(9);
    crypto.getRandomValues(a);
    return "w" + Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function tellParent(message) {
    if (window.parent !== window) window.parent.postMessage(message, "*"); // carries no secret
  }

  // -- the token: fragment (#token=...) or postMessage from the host page --------------------------

  function tokenFromFragment() {
    const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
    if (!m) return null;
    history.replaceState(null, "", location.pathname + location.search); // drop it from the URL
    return decodeURIComponent(m[1]);
  }
  // The user a token names (its `sub`, read, not verified: the server verifies it), to tell a
  // refresh from another user signing in.
  function userOf(token) {
    try {
      return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub || null;
    } catch (e) {
      return null;
    }
  }
  function setToken(token) {
    const had = s.token;
    s.token = token;
    const who = userOf(token);
    if (s.me && who && who !== s.me.user_id) return signInAfresh(); // not a refresh: the server refuses those (4002)
    if (!s.ws) connect();
    else if (had && s.ws.readyState === WebSocket.OPEN) send({ type: "auth", token, ref: "reauth" });
  }
  window.addEventListener("message", (ev) => {
    if (ev.source !== window.parent) return;
    if (!(PARENTS.includes("*") || PARENTS.includes(ev.origin))) return;
    const d = ev.data;
    if (d && d.type === "sideline:token" && typeof d.token === "string") setToken(d.token);
  });

  // -- connection ------------------------------------------------------------------------------

  // Every attempt until the first join says the same, so that an announced failure is not said
  // again at each attempt (said() repeats a change of the line).
  const FIRST_FAILED = "cannot connect — trying again…";

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/ws";
    status(s.joinedOnce ? "reconnecting…" : s.retry ? FIRST_FAILED : "connecting…", "connecting");
    const ws = new WebSocket(url);
    s.ws = ws;
    ws.onopen = () => send({ type: "auth", token: s.token });
    ws.onmessage = (ev) => { heard(ws); onFrame(JSON.parse(ev.data)); };
    ws.onclose = (ev) => onClose(ws, ev.code, ev.reason);
  }
  // Another user signs in on this panel (a shared device, a log-out and log-in without a
  // reload): a connection of its own and a fresh join, nothing of the previous user's kept (their
  // reactions and reports marked, their draft and unanswered sends, a reply or a report begun).
  function signInAfresh() {
    const ws = s.ws;
    if (ws) {
      s.ws = null;
      clearInterval(s.ping);
      clearTimeout(s.silent);
      s.silent = null;
      ws.close();
    }
    forgetUser();
    connect();
  }
  function forgetUser() {
    clearTimeout(s.unmuteTimer);
    Object.assign(s, {
      me: null, pos: null, inRoom: false, unsure: [], replyTo: null, reporting: null, muted: false, mutedUntil: null,
      barred: null, review: null, reviewGen: s.reviewGen + 1,
    });
    for (const kept of [s.mine, s.reported, s.sending, s.toastsBefore, s.pending]) kept.clear();
    renderSending();
    $("text").value = "";
    renderCount();
    openPollForm(false);
  }
  function join() {
    const frame = { type: "join", room: ROOM, ref: "join" };
    if (s.pos) Object.assign(frame, { after_seq: s.pos.seq, epoch: s.pos.epoch, boot: s.pos.boot, remote: s.pos.remote });
    send(frame);
  }
  // A socket can die without closing (a phone leaving its Wi-Fi, a NAT entry forgotten): the
  // browser hears no close until its TCP gives up, minutes later. Every ping is answered at once,
  // so a ping with nothing at all back within silentMs() (the heartbeat, 2 to 10 s) means the
  // socket is gone: it is dropped and the panel reconnects and resumes, as after any drop.
  function silentMs() { return Math.min(10000, Math.max(2000, s.heartbeat * 1000)); }
  function ping(ws) {
    if (s.ws !== ws || !send({ type: "ping" }) || s.silent) return;
    s.silent = setTimeout(() => { if (s.ws === ws) { onClose(ws, 1006); ws.close(); } }, silentMs());
  }
  function heard(ws) {
    if (s.ws !== ws) return;
    clearTimeout(s.silent);
    s.silent = null;
  }
  function onClose(ws, code, reason) {
    if (s.ws !== ws) return;
    clearInterval(s.ping);
    clearTimeout(s.silent);
    s.silent = null;
    s.inRoom = false;
    s.ws = null;
    // Their answers are lost with the socket: keep what the panel shows until the next joined.
    s.pending.forEach((p) => s.unsure.push(p));
    s.pending.clear();
    if (FATAL_CLOSES.has(code)) return status("this page may not embed the chat", "closed");
    if (AUTH_CLOSES[code]) {
      status("signed out — waiting for a new token", "waiting");
      s.token = null;
      // A token that expired after it signed in is replaced at once; one refused outright (a host
      // signing with the wrong secret, or whose clock makes every token expired) means the next
      // may be too: the asks back off (1 s, 2 s, … a minute), or panel and host page would trade
      // tokens and handshakes as fast as they can.
      console.warn(`sideline: the server refused the token (${code} ${AUTH_CLOSES[code]}${reason ? ": " + reason : ""}); asking the host page for a new one`);
      const wait = s.authFails ? Math.min(60000, 1000 * 2 ** (s.authFails - 1)) : 0;
      s.authFails += 1;
      clearTimeout(s.askTimer);
      s.askTimer = setTimeout(() => { if (!s.token) tellParent({ type: "sideline:token-expired", room: ROOM }); }, wait);
      return;
    }
    // 4303: we fell behind; resume at once. Anything else: back off, with jitter.
    const delay = code === 4303 ? 0 : Math.min(8000, 500 * 2 ** s.retry) * (0.75 + Math.random() / 2);
    s.retry += 1;
    status(s.joinedOnce ? "reconnecting…" : FIRST_FAILED, "connecting");
    setTimeout(() => { if (!s.ws && s.token) connect(); }, delay);
  }
  function track(frame) {
    if (!s.pos || !frame.seq) return;
    if (frame.epoch === s.pos.epoch) s.pos.seq = Math.max(s.pos.seq, frame.seq);
    else s.pos.remote[frame.epoch] = Math.max(s.pos.remote[frame.epoch] || 0, frame.seq);
  }

  // -- frames from the server ------------------------------------------------------------------

  function onFrame(f) {
    switch (f.type) {
      case "welcome":
        if (s.me && s.me.user_id !== f.user_id) forgetUser(); // (a token whose user could not be read)
        s.me = f; s.heartbeat = f.heartbeat_seconds || 25; s.authFails = 0;
        clearInterval(s.ping);
        s.ping = setInterval(ping, s.heartbeat * 1000, s.ws);
        if (f.ref !== "reauth" || !s.inRoom) join(); // (a new token after a refused join: try it)
        break;
      case "joined": onJoined(f); break;
      case "message": track(f); addMessage(f, true); break;
      case "deleted": track(f); removeMessage(f.message_id); break;
      case "review": fetchReview(); break; // moderators only: held, reported or decided
      case "room": track(f); onRoom(f); break;
      case "reaction": onReaction(f); break;
      case "poll": s.polls.set(f.poll_id, Object.assign(s.polls.get(f.poll_id) || {}, f)); renderPolls(); break;
      case "presence": onPresence(f); break;
      case "typing": onTyping(f); break;
      case "notice": onNotice(f); break;
      case "error": onError(f); break;
      case "ack": settle(f.ref, true); if (f.op === "send") sent(f.ref); break;
      case "left": onLeft(f); break;
      case "resync": clearRoom(); break;
    }
  }

  function onJoined(f) {
    s.joinedOnce = true; s.inRoom = true; s.barred = null;
    s.retry = 0; // (on joining, not on the welcome: a join refused again and again backs off too)
    s.role = f.role; s.mode = f.mode; s.maxLen = f.max_message_length; s.typingOn = f.typing !== false;
    s.maxReactions = f.max_reactions_per_message || Infinity; // a server too old to say: no cap known
    s.pos = { epoch: f.epoch, seq: f.seq, boot: f.boot, remote: Object.assign({}, f.remote || {}) };
    $("room-title").textContent = ROOM;
    if (!f.resumed) clearRoom();
    takeMine(f);
    (f.reported || []).forEach((id) => s.reported.add(id)); // also those reported before a reload
    (f.history || []).forEach((m) => addMessage(m));
    if (!f.resumed) s.olderDone = !f.next_before; // the history holds the room's first message: nothing earlier
    renderOlder();
    s.pinned = null; setPinned(f.pinned_message_id); // read afresh: it may have been deleted meanwhile
    if (f.resumed) s.messages.forEach((m) => renderMessage(m));
    (f.polls || []).forEach((p) => s.polls.set(p.poll_id, p));
    if (f.presence) onPresence(f.presence);
    renderPolls(); renderControls();
    status("live", "live");
    fetchReview(); // what was held or reported while this moderator was away
    // Sends whose answer was lost with the old socket, or typed while reconnecting: sent again
    // with the same client_msg_id, so one that was committed is answered, not written twice.
    s.sending.forEach((frame) => send(frame));
  }
  // A send the server took: the notice it ends (a refusal of an earlier try, say) goes, but not one
  // shown since the send was made (the answer can come late: "too many characters" about the next
  // text went the moment the message before was acknowledged, unread).
  function sent(ref) {
    s.sending.delete(ref);
    renderSending();
    if (s.toastsBefore.get(ref) === s.toasts) toast("", "info");
    s.toastsBefore.delete(ref);
  }
  // A send the server refused: its text goes back into an empty composer, to edit or send later.
  function refused(ref) {
    const frame = ref && s.sending.get(ref);
    if (!frame) return;
    s.sending.delete(ref);
    s.toastsBefore.delete(ref);
    renderSending();
    if ($("text").value) return;
    $("text").value = frame.text;
    renderCount();
    if (frame.reply_to && s.messages.has(frame.reply_to)) { s.replyTo = frame.reply_to; renderReplying(); }
  }
  // A change of the room's mode is said (the note under the chat changes, but it is no live
  // region), unless it took the focus there, which reads it.
  const MODE_SAID = {
    open: "Chat: everyone can post again.", closed: "Chat: this room is closed.",
    "reactions-only": "Chat: reactions only right now.", "speakers-only": "Chat: only speakers can post right now.",
  };
  function onRoom(f) {
    const was = s.role, mode = s.mode;
    s.mode = f.mode; s.maxLen = f.max_message_length;
    if (f.role) s.role = f.role;
    renderControls();
    if (f.mode !== mode && MODE_SAID[f.mode] && document.activeElement !== $("readonly")) tell(MODE_SAID[f.mode]);
    setPinned(f.pinned_message_id);
    if (s.role !== was) fetchReview();
    s.messages.forEach((m) => renderMessage(m));
  }
  function onNotice(f) {
    if (f.code === "user_muted" || f.code === "slow_mode") refused(f.ref); // answered instead of an ack
    if (f.code === "user_muted") muted(untilIn(f.message));
    if (f.code === "user_unmuted") muted(false);
    toast(f.message, f.code === "masked" || f.code === "user_unmuted" ? "info" : "");
  }
  // A mute says when it ends ("until <time>"); the server tells of one lifted early, not of one
  // that runs out, so the composer comes back at that time (a clock ahead of the server's gives
  // it back early: the next send is refused with the mute again, its text kept).
  function muted(until) {
    clearTimeout(s.unmuteTimer);
    s.muted = until !== false;
    s.mutedUntil = until || null;
    renderControls();
    s.messages.forEach((m) => renderMessage(m)); // their ↩ comes and goes
    const ms = s.mutedUntil ? s.mutedUntil - Date.now() + 500 : -1;
    if (ms >= 0 && ms < 0x7fffffff) {
      s.unmuteTimer = setTimeout(() => { muted(false); toast("you can post again", "info"); }, ms);
    }
  }
  // Refusals. A ban, unprompted (a `left` follows) or refusing the join, and a join the server
  // refuses for good (a token for another room, say) leave the panel closed, saying why, until a
  // new token; a join refused for a passing reason (the log unavailable) is tried again.
  const JOIN_REFUSED = {
    user_banned: "you are banned from this room", room_not_allowed: "this chat is not open to you",
    holdout: "this chat is not available", invalid_room_id: "this chat is not available",
    unknown_room_kind: "this chat is not available",
  };
  function onError(f) {
    settle(f.ref, false); refused(f.ref);
    toast(f.message);
    const joining = f.ref === "join";
    if (f.code === "user_banned" || (joining && JOIN_REFUSED[f.code])) {
      s.barred = { why: JOIN_REFUSED[f.code], until: untilIn(f.message) };
      s.inRoom = false;
      renderControls();
      s.messages.forEach((m) => renderMessage(m)); // no more reactions, replies, reports
      if (joining) status(s.barred.why, "closed"); // (an unprompted ban: the `left` after it says so)
      if (joining && f.code !== "user_banned") console.warn("sideline: the join was refused:", f.message);
    } else if (joining && s.ws) {
      s.ws.close(); // reconnects with backoff
    }
  }
  function onLeft(f) {
    s.inRoom = false;
    if (f.reason === "room_not_allowed") s.barred = s.barred || { why: JOIN_REFUSED.room_not_allowed, until: null };
    renderControls();
    status(f.reason === "banned" ? "you were removed from this room" : s.barred ? s.barred.why : "you left this room", "closed");
  }

  // -- messages --------------------------------------------------------------------------------

  function clearRoom() {
    const had = focusIn($("messages"));
    s.messages.clear(); s.polls.clear(); s.mine.clear(); s.unread.clear();
    s.olderDone = false;
    renderUnread();
    $("messages").replaceChildren();
    if (had) $("log").focus({ preventScroll: true });
    renderPolls();
  }
  // `live`: a message frame, as opposed to the join's history; a new one is announced.
  function addMessage(m, live) {
    const old = s.messages.get(m.message_id);
    s.messages.set(m.message_id, Object.assign(old || {}, m, { reactions: m.reactions || (old && old.reactions) || {} }));
    const node = renderMessage(s.messages.get(m.message_id));
    if (m.message_id === s.pinned) renderPinned(); // (an approved one comes back)
    if (!old) {
      const list = $("messages");
      const own = s.me && m.user_id === s.me.user_id;
      list.appendChild(node);
      if (list.children.length > 300) {
        while (list.children.length > 300) { forget(list.firstChild.dataset.id); list.firstChild.remove(); }
        s.olderDone = false; // what scrolled out can be loaded again
      }
      renderOlder();
      if (own) { s.follow = true; if (m.client_msg_id && s.sending.has(m.client_msg_id)) renderSending(); }
      if (s.follow) toBottom();
      else if (live) { s.unread.add(m.message_id); renderUnread(); }
      if (live) announce(m);
    }
  }
  // What the user sent and the server has not answered yet (it goes again after a reconnect):
  // shown under the messages as "sending…" until it arrives as a message or is answered.
  function renderSending() {
    const mine = s.me && s.me.user_id;
    const shown = new Set();
    s.messages.forEach((m) => { if (m.user_id === mine && m.client_msg_id) shown.add(m.client_msg_id); });
    $("sending").replaceChildren(...Array.from(s.sending.values()).filter((f) => !shown.has(f.client_msg_id)).map((f) => {
      const li = el("li", "msg pending");
      li.append(isolated("who", (s.me && (s.me.name || s.me.user_id)) || "You"), ": ", autoDir(el("span", "text", f.text)),
        " ", el("span", "state", "sending…"));
      return li;
    }));
  }
  // -- following the chat -------------------------------------------------------------------------
  // A reader at the bottom of the log follows the chat: it stays at the bottom whatever changes
  // its height or the log's (new messages, a redraw, a poll or the pinned bar above, a notice
  // below). One scrolled up is left where they are (the browser's scroll anchoring keeps what they
  // read in place) and a cue under the log counts what came meanwhile; it takes them down.
  function toBottom() { const box = $("log"); box.scrollTop = box.scrollHeight; }
  function renderUnread() {
    const n = s.unread.size, cue = $("unread");
    cue.hidden = n === 0 || s.follow;
    const arrow = el("span", "", "↓ ");
    arrow.setAttribute("aria-hidden", "true");
    cue.replaceChildren(arrow, `${n} new ${n === 1 ? "message" : "messages"}`);
  }
  $("log").addEventListener("scroll", () => {
    const box = $("log");
    s.follow = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    if (s.follow && s.unread.size) { s.unread.clear(); renderUnread(); }
  });
  new ResizeObserver(() => { if (s.follow) toBottom(); }).observe($("log"));
  new ResizeObserver(() => { if (s.follow) toBottom(); }).observe($("messages"));
  new ResizeObserver(() => { if (s.follow) toBottom(); }).observe($("sending"));
  $("unread").addEventListener("click", () => {
    const had = document.activeElement === $("unread");
    s.follow = true; s.unread.clear();
    toBottom(); renderUnread();
    if (had) $("log").focus({ preventScroll: true }); // the cue is gone: the log, not the page
  });
  function forget(id) {
    if (id === s.pinned && !s.pinnedMsg) s.pinnedMsg = s.messages.get(id) || null; // scrolled out, still pinned
    s.messages.delete(id);
    s.mine.delete(id);
    if (s.unread.delete(id)) renderUnread();
    if (s.reporting === id) s.reporting = null;
  }
  function removeMessage(id) {
    forget(id);
    const node = document.querySelector(`li.msg[data-id="${CSS.escape(id)}"]`);
    if (node) {
      // The focus was on it (a moderator's 🗑, say): the same control of the next message, or
      // of the one above when it was the last, takes it; the log when none is left.
      const had = focusIn(node) || (document.activeElement === node ? { key: "", back: "" } : null);
      const near = node.nextElementSibling || node.previousElementSibling;
      node.remove();
      if (had) refocus(near || $("log"), had, $("log"));
    }
    if (id === s.pinned) { s.pinnedMsg = null; renderPinned(); } // deleted or hidden: not shown pinned
    if (id === s.replyTo) renderReplying();
    s.messages.forEach((m) => { if (m.reply_to === id) renderMessage(m); }); // its quote goes
  }

  // -- earlier messages -------------------------------------------------------------------------
  // The join brings the latest messages; earlier pages come from the HTTP history (`before`: the
  // first message shown) and go above the others without moving what the user is reading.
  function renderOlder() {
    $("older").hidden = s.olderDone || !$("messages").firstElementChild;
  }
  async function loadOlder() {
    const list = $("messages");
    const first = list.firstElementChild;
    if (!first || s.olderBusy) return;
    s.olderBusy = true;
    $("older").setAttribute("aria-disabled", "true"); // (not disabled: the focus stays on it)
    const page = await api("GET", `/messages?before=${encodeURIComponent(first.dataset.id)}&limit=50`);
    s.olderBusy = false;
    $("older").removeAttribute("aria-disabled");
    if (!page || !Array.isArray(page.messages) || !first.isConnected) return; // (a resync cleared the list)
    for (const [id, emojis] of Object.entries(page.mine || {})) s.mine.set(id, new Set(emojis));
    (page.reported || []).forEach((id) => s.reported.add(id));
    const fresh = page.messages.filter((m) => !s.messages.has(m.message_id));
    for (const m of fresh) s.messages.set(m.message_id, Object.assign({}, m, { reactions: m.reactions || {} }));
    const box = $("log"), height = box.scrollHeight, top = box.scrollTop;
    first.before(...fresh.map((m) => renderMessage(s.messages.get(m.message_id))));
    box.scrollTop = top + (box.scrollHeight - height);
    if (!page.next_before) s.olderDone = true;
    const had = document.activeElement === $("older");
    renderOlder();
    if (had && $("older").hidden) $("log").focus({ preventScroll: true }); // nothing earlier: the button went
    const ids = new Set(fresh.map((m) => m.message_id)); // replies below may find what they answer now
    s.messages.forEach((m) => { if (m.reply_to && ids.has(m.reply_to)) renderMessage(m); });
  }
  $("older").addEventListener("click", loadOlder);

  // -- replies ----------------------------------------------------------------------------------
  // A reply shows the start of the message it answers (a button: it scrolls to that message and
  // puts the focus on it), or "an earlier message" when that one is not shown here (older than
  // the history, deleted or hidden).
  function replyQuote(m) {
    const parent = s.messages.get(m.reply_to);
    if (!parent) return el("span", "reply-to", "↪ an earlier message");
    const q = el("button", "reply-to");
    q.type = "button";
    q.dataset.key = "quote";
    q.append("↪ ", isolated("quote-name", nameOf(parent)), ": ", isolated("quote-text", parent.text));
    q.title = "Show the message this replies to";
    q.setAttribute("aria-label", `Show the message this replies to, ${nameOf(parent)}: ${clip(parent.text, 100)}`);
    q.onclick = () => {
      const node = document.querySelector(`li.msg[data-id="${CSS.escape(parent.message_id)}"]`);
      if (!node) return;
      node.scrollIntoView({ block: "center" });
      node.focus({ preventScroll: true });
      node.classList.add("flash");
      setTimeout(() => node.classList.remove("flash"), 1200);
    };
    return q;
  }
  function startReply(m) {
    s.replyTo = m.message_id;
    renderReplying();
    $("text").focus();
  }
  function renderReplying() {
    const box = $("replying");
    const had = focusIn(box);
    const m = s.replyTo && s.messages.get(s.replyTo);
    if (!m) s.replyTo = null;
    box.hidden = !m;
    if (!m) {
      box.replaceChildren();
      if (had && !$("composer").hidden) $("text").focus(); // ✕: back to the message being written
      return;
    }
    const cancel = el("button", "cancel", "✕");
    cancel.type = "button";
    cancel.dataset.key = "cancel";
    cancel.title = "Do not reply";
    cancel.setAttribute("aria-label", "Cancel the reply");
    cancel.onclick = () => { s.replyTo = null; renderReplying(); };
    const what = el("span", "what");
    what.append("Replying to ", isolated("quote-name", nameOf(m)), ": ", isolated("quote-text", m.text));
    box.replaceChildren(what, cancel);
    refocus(box, had, $("text"));
  }

  // -- the pinned message -----------------------------------------------------------------------
  // joined and room frames name it; its text is the shown message's, or the server's (GET of the
  // message, as the user's history has it) when it is older than those shown. A deleted or hidden
  // one is not shown. Moderators pin from a message's 📌 and unpin from the bar's ✕.
  function setPinned(id) {
    id = id || null;
    if (id === s.pinned) return renderPinned();
    const was = s.messages.get(s.pinned);
    s.pinned = id; s.pinnedMsg = null;
    renderPinned();
    for (const m of [was, s.messages.get(id)]) if (m) renderMessage(m); // their 📌 comes and goes
    if (id && !s.messages.has(id)) fetchPinned(id);
  }
  async function fetchPinned(id) {
    const m = await api("GET", `/messages/${encodeURIComponent(id)}`, undefined, true);
    if (id !== s.pinned || !m || !m.message_id) return; // changed meanwhile, or not for this user to see
    s.pinnedMsg = m;
    renderPinned();
  }
  function renderPinned() {
    const box = $("pinned");
    const had = focusIn(box);
    const m = s.pinned && (s.messages.get(s.pinned) || s.pinnedMsg);
    box.hidden = !m;
    if (!m) {
      box.replaceChildren();
      if (had) $("log").focus({ preventScroll: true });
      return;
    }
    const icon = el("span", "pin-icon", "📌");
    icon.setAttribute("aria-hidden", "true"); // the region is named "Pinned message"
    const who = el("span", "who");
    who.append(isolated("", nameOf(m)), ":"); // (the bar's gap spaces them)
    const parts = [icon, who, autoDir(el("span", "text", m.text))];
    if (s.role === "moderator") {
      const unpin = el("button", "unpin", "✕");
      unpin.type = "button";
      unpin.dataset.key = "unpin";
      unpin.title = "Unpin this message";
      unpin.setAttribute("aria-label", `Unpin the message from ${nameOf(m)}`);
      unpin.onclick = () => pin(null);
      parts.push(unpin);
    }
    box.replaceChildren(...parts);
    refocus(box, had, $("log"));
  }
  async function pin(id) {
    if (await api("POST", "/pin", { message_id: id })) toast(id ? "message pinned" : "message unpinned", "info");
  }
  function canReact() { return s.role !== "viewer" && s.mode !== "closed" && !s.barred; }
  function canPost() {
    if (s.role === "viewer" || s.mode === "closed" || s.muted || s.barred) return false;
    if (s.mode === "reactions-only") return s.role === "moderator";
    if (s.mode === "speakers-only") return s.role === "speaker" || s.role === "moderator";
    return true;
  }
  function renderMessage(m) {
    let node = document.querySelector(`li.msg[data-id="${CSS.escape(m.message_id)}"]`);
    if (!node) { node = el("li", "msg"); node.dataset.id = m.message_id; node.tabIndex = -1; }
    const had = focusIn(node); // kept on the same control through the redraw
    node.className = "msg " + (m.role || "user");
    const head = isolated("who", nameOf(m));
    // Words apart on screen by a margin only run together for a screen reader ("Anahello",
    // "MODERATORBoss"): they are apart in the text itself.
    const parts = [head, ": "];
    if (m.role === "moderator" || m.role === "speaker") parts.unshift(el("span", "badge " + m.role, m.role), " ");
    if (m.reply_to) parts.unshift(replyQuote(m));
    parts.push(autoDir(el("span", "text", m.text)));
    if (m.masked) parts.push(" ", el("span", "masked", "(masked)"));
    parts.push(renderTools(m));
    node.replaceChildren(...parts);
    refocus(node, had);
    return node;
  }
  // A control of a message: `key` finds it again after a redraw, `back` is where the focus goes
  // when it is gone.
  function tool(cls, text, key, label, back) {
    const b = el("button", cls, text);
    b.type = "button";
    b.dataset.key = key;
    if (back) b.dataset.back = back;
    if (label) b.setAttribute("aria-label", label);
    return b;
  }
  function renderTools(m) {
    const tools = el("div", "tools");
    const counts = m.reactions || {};
    const emojis = Object.keys(counts).filter((e) => counts[e] > 0);
    for (const e of emojis) tools.appendChild(reactionButton(m, e, `${e} ${counts[e]}`, "chip"));
    if (canReact()) for (const e of REACTIONS) if (!emojis.includes(e)) tools.appendChild(reactionButton(m, e, e, "add"));
    const others = s.me && m.user_id !== s.me.user_id;
    if (canPost()) {
      const re = tool("reply", "↩", "reply", `Reply to ${nameOf(m)}`);
      re.title = "Reply to this message";
      re.onclick = () => startReply(m);
      tools.append(re);
    }
    if (s.role === "moderator" && others) {
      const del = tool("mod delete", "🗑", "delete", `Delete the message from ${nameOf(m)}`);
      del.title = "Delete this message";
      del.onclick = () => moderate("DELETE", `/messages/${encodeURIComponent(m.message_id)}`);
      const mute = tool("mod mute", "🔇", "mute", `Mute ${nameOf(m)} for 10 minutes`);
      mute.title = `Mute ${nameOf(m)} for 10 minutes`;
      mute.onclick = () => moderate("POST", "/mutes", { user_id: m.user_id, duration_seconds: 600, reason: "muted from the chat panel" });
      tools.append(del, mute);
    }
    if (s.role === "moderator") {
      if (m.message_id !== s.pinned) {
        const pinIt = tool("pin", "📌", "pin", `Pin the message from ${nameOf(m)}`, "delete");
        pinIt.title = "Pin this message above the chat";
        pinIt.onclick = () => pin(m.message_id);
        tools.append(pinIt);
      }
    } else if (canReact() && others) {
      tools.append(...reportControls(m));
    }
    return tools;
  }
  // Users report what moderation let through: ⚑ opens the reasons (the focus goes to the first),
  // one tap files the report; Cancel or Escape closes them and gives the focus back to ⚑.
  function reportControls(m) {
    const id = m.message_id;
    const flag = tool("report", "⚑", "report");
    if (s.reported.has(id)) {
      // Not `disabled`: the focus stays on it after the report, and it says it is done.
      flag.setAttribute("aria-disabled", "true");
      flag.title = "You reported this message";
      flag.setAttribute("aria-label", `You reported the message from ${nameOf(m)}`);
      return [flag];
    }
    const close = () => {
      s.reporting = null;
      renderMessage(m);
      const again = byKey(document.querySelector(`li.msg[data-id="${CSS.escape(id)}"]`) || document, "report");
      if (again) again.focus({ preventScroll: true });
    };
    flag.title = "Report this message to the moderators";
    flag.setAttribute("aria-label", `Report the message from ${nameOf(m)}`);
    flag.setAttribute("aria-expanded", String(s.reporting === id));
    flag.onclick = () => {
      if (s.reporting === id) return close();
      s.reporting = id;
      const node = renderMessage(m);
      const first = node.querySelector(".report-menu button");
      if (first) first.focus({ preventScroll: true });
    };
    flag.onkeydown = (ev) => { if (ev.key === "Escape" && s.reporting === id) close(); };
    if (s.reporting !== id) return [flag];
    const menu = el("span", "report-menu");
    menu.setAttribute("role", "group");
    menu.setAttribute("aria-label", "Why are you reporting it?");
    for (const [reason, label] of REPORT_REASONS) {
      const b = tool("reason", label, "reason:" + reason, null, "report");
      b.onclick = () => report(m, reason);
      menu.appendChild(b);
    }
    const cancel = tool("reason cancel", "Cancel", "report-cancel", "Cancel the report", "report");
    cancel.onclick = close;
    menu.appendChild(cancel);
    menu.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.stopPropagation(); close(); } });
    return [flag, menu];
  }
  async function report(m, reason) {
    const id = m.message_id;
    s.reporting = null;
    const ok = await api("POST", `/messages/${encodeURIComponent(id)}/reports`, { reason });
    if (ok) {
      s.reported.add(id);
      toast("reported: the moderators will look at it", "info");
    }
    const shown = s.messages.get(id);
    if (shown) renderMessage(shown); // (hidden meanwhile, if it was the report that hid it)
  }
  // The user's own reactions, per message: what the server's joined says (joined.mine: also the
  // ones added before a reload or on another device), then the taps made here since (message and
  // reaction frames carry counts only, the same for everyone).
  function mineOn(id) { return s.mine.get(id) || new Set(); }
  // joined.mine is the server's word on the messages it names: all of them on a fresh join, the
  // recent ones on a resume. A tap whose answer was lost with the old socket may never have been
  // recorded: unless the server names its message, its mark is taken back.
  function takeMine(f) {
    const told = f.mine || {};
    for (const p of s.unsure) if (!Object.hasOwn(told, p.id)) setMine(p.id, p.emoji, false);
    s.unsure = [];
    for (const [id, emojis] of Object.entries(told)) {
      if (f.resumed && !s.messages.has(id)) continue; // no longer shown here
      s.mine.set(id, new Set(emojis));
    }
  }
  function setMine(id, emoji, on) {
    const set = mineOn(id);
    on ? set.add(emoji) : set.delete(emoji);
    set.size ? s.mine.set(id, set) : s.mine.delete(id);
  }
  function reactionButton(m, emoji, label, cls) {
    const mine = mineOn(m.message_id).has(emoji);
    const n = (m.reactions || {})[emoji] || 0;
    const b = tool(cls + (mine ? " mine" : ""), label, "react:" + emoji, `React ${emoji} to ${nameOf(m)}'s message${n > 0 ? ", " + n : ""}`);
    b.setAttribute("aria-pressed", String(mine)); // the user's own: pressed (and ✓), a tap removes it
    // At the cap the server refuses another reaction: offer only removing one of the user's own.
    // aria-disabled, not disabled: it stays reachable by Tab and says why (its title is its
    // description), and used, it says so in a notice instead of sending.
    const full = !mine && mineOn(m.message_id).size >= s.maxReactions;
    const why = `You have ${s.maxReactions} reactions on this message, the most you may add; remove one first`;
    b.disabled = !canReact();
    if (full) { b.setAttribute("aria-disabled", "true"); b.title = why; }
    b.onclick = () => (full ? toast(why, "info") : react(m, emoji, !mineOn(m.message_id).has(emoji)));
    return b;
  }
  function react(m, emoji, add) {
    const ref = "react-" + (s.refs += 1);
    if (!send({ type: "react", room: ROOM, message_id: m.message_id, emoji, remove: !add, ref })) return;
    s.pending.set(ref, { id: m.message_id, emoji, add });
    setMine(m.message_id, emoji, add);
    renderMessage(m); // at once, so taps faster than the server's counts still meet the cap
  }
  // The answer to a react (its ack or error echoes the ref): a refused one changed nothing on
  // the server, so the mark set on the tap is taken back; otherwise the user's next tap on that
  // emoji would "remove" a reaction they do not have, and the cap would count it.
  function settle(ref, done) {
    const p = ref && s.pending.get(ref);
    if (!p) return;
    s.pending.delete(ref);
    if (done) return;
    setMine(p.id, p.emoji, !p.add);
    const m = s.messages.get(p.id);
    if (m) renderMessage(m);
  }
  // An HTTP call with the panel's token (a report, a moderator's action): the JSON answer, or null once the refusal
  // (the server's own message) or the failure has been shown.
  async function api(method, path, body, quiet) {
    let r;
    try {
      r = await fetch(roomPath() + path, {
        method, headers: { Authorization: "Bearer " + s.token, "Content-Type": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (e) {
      if (!quiet) toast("the chat server could not be reached");
      return null;
    }
    if (!r.ok) {
      const err = await r.json().catch(() => ({}));
      if (!quiet) toast((err.error && err.error.message) || "that did not work (" + r.status + ")");
      return null;
    }
    return (await r.json().catch(() => null)) ?? {}; // a body-less success is a success too
  }
  async function moderate(method, path, body) {
    if (!(await api(method, path, body))) return;
    toast(method === "DELETE" ? "message deleted" : "user muted", "info");
  }

  // -- the review queue (moderators only) -------------------------------------------------------
  // Messages moderation held and messages users reported, waiting for a decision. The control
  // exists only while the user is a moderator of the room: for anyone else it is not in the page
  // at all (and the server refuses them the queue). The server sends a moderator a `review` frame
  // whenever the queue changes (a hold, a report, a decision, a deletion); the list is fetched
  // then, on join, on opening and after each decision, and every 60 s in case a signal was lost.

  const REVIEW_EVERY_MS = 60000;
  const DECISIONS = [
    ["approve", "Approve", "Approve: show the message in the chat", "approved"],
    ["reject", "Reject", "Reject: keep the message out of the chat (a reported one is deleted)", "rejected"],
    ["delete", "Delete", "Delete the message", "deleted"],
  ];

  function syncReview() {
    const mod = s.role === "moderator";
    if (mod && !$("review-toggle")) {
      const toggle = el("button", "review-toggle");
      toggle.id = "review-toggle";
      toggle.type = "button";
      toggle.title = "Messages held by moderation or reported by users, waiting for your decision";
      toggle.setAttribute("aria-controls", "review");
      toggle.onclick = () => openReview(!s.reviewOpen);
      $("status").before(toggle);
      const box = el("section", "review");
      box.id = "review";
      box.hidden = true;
      box.setAttribute("aria-label", "Review queue");
      box.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { openReview(false); toggle.focus(); } });
      document.querySelector("#panel > .bar").after(box);
      s.reviewTimer = setInterval(() => { if (reviewDue()) fetchReview(); }, REVIEW_EVERY_MS);
      renderReview();
    } else if (!mod && $("review-toggle")) {
      $("review-toggle").remove();
      $("review").remove();
      clearInterval(s.reviewTimer);
      Object.assign(s, { review: null, reviewOpen: false, reviewGen: s.reviewGen + 1 }); // drop late answers
    }
  }
  function openReview(open) {
    s.reviewOpen = open;
    renderReview();
    if (open) fetchReview();
  }
  async function fetchReview() {
    if (s.role !== "moderator" || !s.token || !$("review-toggle")) return;
    if (s.reviewBusy) { s.reviewAgain = true; return; } // a burst of signals: one more GET after this one
    s.reviewBusy = true;
    const gen = (s.reviewGen += 1);
    const items = await api("GET", "/review-queue");
    s.reviewBusy = false;
    // A decision overtook it (or the role went): drop it. Unchanged: keep the focus where it is.
    if (gen === s.reviewGen && Array.isArray(items) && JSON.stringify(items) !== JSON.stringify(s.review)) {
      s.review = items;
      renderReview();
    }
    if (s.reviewAgain) { s.reviewAgain = false; fetchReview(); }
  }
  async function decide(item, decision, done) {
    const id = item.message_id;
    const hadFocus = $("review").contains(document.activeElement);
    s.deciding.add(id);
    s.reviewGen += 1; // a list fetched before the decision is out of date
    renderReview();
    const ok = await api("POST", `/review/${encodeURIComponent(id)}`, { decision });
    s.deciding.delete(id);
    if (ok && s.review) {
      s.review = s.review.filter((i) => i.message_id !== id); // an approved one arrives as a message frame
      toast(done, "info");
    }
    renderReview();
    if (hadFocus && $("review-toggle")) $("review-toggle").focus();
    fetchReview(); // refused (decided elsewhere, say) or not: the server's list
  }
  function renderReview() {
    const toggle = $("review-toggle");
    if (!toggle) return;
    const n = s.review ? s.review.length : 0;
    toggle.textContent = s.review ? `Review (${n})` : "Review";
    toggle.classList.toggle("pending", n > 0);
    toggle.setAttribute("aria-expanded", String(s.reviewOpen));
    toggle.setAttribute("aria-label", s.review ? `Review queue, ${n} waiting` : "Review queue");
    const box = $("review");
    box.hidden = !s.reviewOpen;
    if (!s.reviewOpen) return;
    if (!s.review) return box.replaceChildren(el("p", "review-empty", "Loading…"));
    if (!n) return box.replaceChildren(el("p", "review-empty", "No messages to review."));
    const list = el("ol", "review-list");
    list.append(...s.review.map(reviewItem));
    box.replaceChildren(list);
  }
  function reviewItem(item) {
    const li = el("li", "review-item");
    li.dataset.id = item.message_id;
    const head = el("div", "review-head");
    const since = new Date(item.since);
    const time = el("time", "since", since.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    time.dateTime = item.since;
    const who = isolated("who", item.name || item.user_id);
    who.title = item.user_id;
    head.append(who, el("span", "why", reviewReason(item)), time);
    const text = item.text == null ? el("div", "text gone", "(its text is no longer at hand)") : autoDir(el("div", "text", item.text));
    const actions = el("div", "review-actions");
    for (const [decision, label, title, done] of DECISIONS) {
      const b = el("button", "decide " + decision, label);
      b.type = "button";
      b.title = title;
      b.setAttribute("aria-label", `${label} the message from ${item.name || item.user_id}`);
      b.disabled = s.deciding.has(item.message_id);
      b.onclick = () => decide(item, decision, done);
      actions.appendChild(b);
    }
    li.append(head, text, actions);
    return li;
  }
  function reviewReason(item) {
    const why = [];
    if (item.source === "hold") why.push("held" + ((item.held_for || []).length ? ": " + item.held_for.join(", ") : ""));
    if (item.reports) why.push(`reported ${item.reports}×`);
    return why.join(" · ");
  }
  // Polled only while someone can look at it and the panel is live (a reconnect's joined fetches).
  function reviewDue() { return !document.hidden && $("panel").dataset.state === "live"; }
  document.addEventListener("visibilitychange", () => { if (reviewDue()) fetchReview(); });

  // -- reactions, polls, presence, typing -------------------------------------------------------

  function onReaction(f) {
    for (const [id, counts] of Object.entries(f.messages || {})) {
      const m = s.messages.get(id);
      if (m) { m.reactions = counts; renderMessage(m); }
    }
    const crowd = Object.entries(f.crowd || {});
    if (crowd.length) {
      const burst = $("crowd-burst");
      burst.textContent = crowd.map(([e, n]) => `${e}×${n}`).join("  ");
      burst.style.opacity = 1;
      setTimeout(() => { burst.style.opacity = 0; }, 1500);
    }
  }
  // A poll's options are a radio group named by its question: the user's vote is the checked
  // one (and ✓). Options that cannot be chosen (voted, closed, a viewer) are aria-disabled, not
  // disabled, so the focus stays on the option just voted for; ↑/↓ move between the options.
  function renderPolls() {
    const box = $("polls");
    const had = focusIn(box);
    box.replaceChildren(...Array.from(s.polls.values()).filter((p) => !p.closed || p.my_vote != null).map((p) => {
      const total = (p.results || []).reduce((a, b) => a + b, 0) || 1;
      const poll = el("div", "poll");
      poll.dataset.id = p.poll_id;
      const title = el("h4", "");
      title.append(isolated("question", p.question), p.closed ? " (closed)" : "");
      title.id = "poll-q-" + p.poll_id;
      const group = el("div", "poll-options");
      group.setAttribute("role", "radiogroup");
      group.setAttribute("aria-labelledby", title.id);
      const off = p.closed || p.my_vote != null || !canReact();
      p.options.forEach((text, i) => {
        const n = p.results[i] || 0;
        const b = el("button", p.my_vote === i ? "mine" : "");
        b.type = "button";
        b.dataset.key = `poll:${p.poll_id}:${i}`;
        b.setAttribute("role", "radio");
        b.setAttribute("aria-checked", String(p.my_vote === i));
        b.setAttribute("aria-label", `${text}, ${n} ${n === 1 ? "vote" : "votes"}${p.my_vote === i ? ", your vote" : ""}`);
        if (off) b.setAttribute("aria-disabled", "true");
        const fill = el("span", "fill");
        fill.style.width = Math.round((100 * n) / total) + "%";
        b.append(fill, autoDir(el("span", "label", text)), el("span", "count", String(n)));
        b.onclick = () => { if (!off) send({ type: "vote", room: ROOM, poll_id: p.poll_id, option: i, ref: "vote" }); };
        group.appendChild(b);
      });
      group.addEventListener("keydown", (ev) => {
        const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[ev.key];
        const options = Array.from(group.children);
        const at = options.indexOf(document.activeElement);
        if (!step || at < 0) return;
        ev.preventDefault();
        options[(at + step + options.length) % options.length].focus();
      });
      poll.append(title, group);
      if (!p.closed && s.role === "moderator") {
        const close = el("button", "poll-close", "Close poll");
        close.type = "button";
        close.dataset.key = `poll:${p.poll_id}:close`;
        close.dataset.back = `poll:${p.poll_id}:0`;
        close.title = "Close the poll: no more votes, the results stay";
        close.setAttribute("aria-label", `Close poll: ${p.question}`);
        close.onclick = () => api("POST", `/polls/${encodeURIComponent(p.poll_id)}/close`);
        poll.appendChild(close);
      }
      return poll;
    }));
    refocus(box, had, $("log"));
  }

  // -- starting a poll (speakers and moderators) ------------------------------------------------
  // The poll arrives like any other, as the server's poll frame, once it is committed.
  const POLL_OPTIONS_MAX = 10;
  function canStartPoll() {
    return (s.role === "speaker" || s.role === "moderator") && s.mode !== "closed" && s.mode !== "reactions-only"
      && !s.muted && !!s.token;
  }
  function syncPollControls() {
    const can = canStartPoll();
    $("poll-new").hidden = !can;
    if (!can && !$("poll-form").hidden) openPollForm(false);
  }
  function pollOption(value) {
    const input = el("input", "poll-option");
    input.maxLength = 80; // the server's limit (PollIn)
    input.placeholder = `Option ${$("poll-options").children.length + 1}`;
    input.setAttribute("aria-label", input.placeholder);
    input.dir = "auto";
    input.value = value || "";
    $("poll-options").appendChild(input);
    $("poll-add-option").disabled = $("poll-options").children.length >= POLL_OPTIONS_MAX;
    return input;
  }
  function openPollForm(open) {
    const form = $("poll-form");
    const had = form.contains(document.activeElement);
    form.hidden = !open;
    if (!open) {
      // Not the page: Tab goes on from here (the note says why when the room took + Poll away).
      if (had) [$("poll-new"), $("readonly"), $("log")].find((n) => !n.hidden).focus();
      return;
    }
    form.reset();
    $("poll-options").replaceChildren();
    pollOption(); pollOption();
    $("poll-question").focus();
  }
  $("poll-new").addEventListener("click", () => openPollForm($("poll-form").hidden));
  $("poll-cancel").addEventListener("click", () => openPollForm(false));
  $("poll-add-option").addEventListener("click", () => pollOption().focus());
  $("poll-form").addEventListener("keydown", (ev) => { if (ev.key === "Escape") openPollForm(false); });
  $("poll-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const question = $("poll-question").value.trim();
    const options = Array.from($("poll-options").children, (i) => i.value.trim()).filter(Boolean);
    if (!question) return toast("the poll needs a question");
    if (options.length < 2) return toast("the poll needs at least two options");
    $("poll-create").disabled = true;
    const ok = await api("POST", "/polls", { question, options });
    $("poll-create").disabled = false;
    if (ok) { openPollForm(false); toast("poll started", "info"); } // else: the server's reason, form kept
  });
  function onPresence(f) {
    if (f.full) { s.members.clear(); (f.members || []).forEach((m) => s.members.set(m.user_id, m.name)); }
    (f.joined || []).forEach((m) => s.members.set(m.user_id, m.name));
    (f.left || []).forEach((id) => s.members.delete(id));
    if (f.members === undefined && !f.joined && !f.left) s.members.clear();
    s.count = f.count;
    const icon = el("span", "", "👥 ");
    icon.setAttribute("aria-hidden", "true");
    $("presence").replaceChildren(icon, String(f.count), el("span", "sr-only", f.count === 1 ? " person here" : " people here"));
    $("presence").title = Array.from(s.members.values()).join(", ");
  }
  function onTyping(f) {
    if (s.me && f.user_id === s.me.user_id) return;
    s.typing.set(f.user_id, { name: f.name, until: Date.now() + 4000 });
    renderTyping();
    setTimeout(renderTyping, 4100);
  }
  function renderTyping() {
    const now = Date.now();
    for (const [id, t] of s.typing) if (t.until < now) s.typing.delete(id);
    const names = Array.from(s.typing.values()).map((t) => t.name);
    // A long name is cut short (ellipsis), never "is typing…" (1.4.10 at 320 px)
    if (names.length === 1) $("typing").replaceChildren(isolated("who", names[0]), el("span", "what", " is typing…"));
    else $("typing").textContent = names.length ? `${names.length} people are typing…` : "";
  }

  // -- controls --------------------------------------------------------------------------------

  function renderControls() {
    const post = canPost();
    const note = $("readonly");
    $("skip").hidden = !post;
    // The composer goes with the focus in it (the room closed, say): the focus goes to the note
    // that says why, and back to the composer when it returns, not to the page.
    const writing = !post && !$("composer").hidden && ($("composer").contains(document.activeElement)
      || $("replying").contains(document.activeElement));
    const reading = post && document.activeElement === note;
    $("composer").hidden = !post;
    if (!post) s.replyTo = null;
    renderReplying();
    $("crowd").hidden = !canReact();
    renderCount();
    note.hidden = post;
    note.textContent = s.barred ? sentence(s.barred.why, s.barred.until) :
      s.muted ? sentence("you are muted in this room", s.mutedUntil) :
      s.mode === "closed" ? "This room is closed." :
      s.mode === "reactions-only" ? "Reactions only right now." :
      s.mode === "speakers-only" ? "Only speakers can post right now." :
      s.role === "viewer" ? "You can read along." : "";
    if (writing) note.focus({ preventScroll: true });
    if (reading) $("text").focus({ preventScroll: true });
    renderPolls();
    syncReview();
    syncPollControls();
  }
  // The room's limit counts characters as the server does (code points: an emoji is one, not the
  // two UTF-16 units a maxlength counts), and nothing typed or pasted is cut: near the limit the
  // composer says how many are left (its description), past it how many are too many, and a
  // send past it is refused here, the text kept.
  function over() { return Array.from($("text").value.trim()).length - s.maxLen; }
  function renderCount() {
    const n = over(), box = $("count");
    box.hidden = n < -Math.min(50, Math.ceil(s.maxLen / 10));
    box.textContent = box.hidden ? "" : n > 0 ? `${n} ${n === 1 ? "character" : "characters"} too many`
      : `${-n} ${n === -1 ? "character" : "characters"} left`;
    box.classList.toggle("over", n > 0);
  }
  $("text").addEventListener("input", renderCount);
  $("skip").addEventListener("click", () => $("text").focus());
  $("composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    const n = over();
    if (n > 0) return toast(`${n} ${n === 1 ? "character" : "characters"} too many: this room allows ${s.maxLen}`);
    const id = randomId();
    const frame = { type: "send", room: ROOM, client_msg_id: id, text, ref: id };
    if (s.replyTo) frame.reply_to = s.replyTo;
    s.sending.set(id, frame);
    s.toastsBefore.set(id, s.toasts);
    send(frame); // not connected: it goes once the room is joined again
    s.follow = true;
    renderSending();
    $("text").value = "";
    renderCount();
    s.replyTo = null;
    renderReplying();
    if (document.activeElement === $("send")) $("text").focus(); // Send used from the keyboard: on to the next message
  });
  // A pointer on Send leaves the focus in the message box (a phone's keyboard stays open).
  $("send").addEventListener("mousedown", (ev) => { if (document.activeElement === $("text")) ev.preventDefault(); });
  $("text").addEventListener("keydown", (ev) => {
    if (ev.isComposing || ev.keyCode === 229) return; // an input method's Enter confirms its text
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("composer").requestSubmit(); }
    if (ev.key === "Escape" && s.replyTo) { s.replyTo = null; renderReplying(); }
  });
  $("text").addEventListener("input", () => {
    const now = Date.now();
    if (s.typingOn && now - s.lastTyping > 2500) { s.lastTyping = now; send({ type: "typing", room: ROOM }); }
  });
  $("crowd").addEventListener("click", (ev) => {
    const emoji = ev.target.dataset && ev.target.dataset.emoji;
    if (emoji) send({ type: "react", room: ROOM, emoji });
  });

  // -- start -----------------------------------------------------------------------------------

  $("room-title").textContent = ROOM;
  const fromFragment = tokenFromFragment();
  if (fromFragment) setToken(fromFragment);
  else tellParent({ type: "sideline:ready", room: ROOM });
})();
