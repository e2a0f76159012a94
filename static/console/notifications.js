// Noticed without watching: desktop notifications, an optional sound, and toasts in the page.
import { $, body, el } from "./core.js";
import { matches } from "./list.js";
import { decide } from "./proposals.js";
import { select } from "./transcript.js";

// --- noticed without watching: desktop notifications and a sound, for what needs a person ----------
const notifyPrefs = { desktop: localStorage.getItem("console.notify") === "on", sound: localStorage.getItem("console.sound") === "on" };

function renderNotifyControls() {
  $("notify").setAttribute("aria-pressed", String(notifyPrefs.desktop));
  $("notify").textContent = notifyPrefs.desktop ? "Notifications on" : "Notify me";
  $("sound").checked = notifyPrefs.sound;
}

$("notify").addEventListener("click", async () => {
  if (!notifyPrefs.desktop && "Notification" in window && Notification.permission === "default") {
    await Notification.requestPermission(); // asked once: the browser remembers the answer
  }
  notifyPrefs.desktop = !notifyPrefs.desktop && "Notification" in window && Notification.permission === "granted";
  localStorage.setItem("console.notify", notifyPrefs.desktop ? "on" : "off");
  renderNotifyControls();
});
$("sound").addEventListener("change", () => {
  notifyPrefs.sound = $("sound").checked;
  localStorage.setItem("console.sound", notifyPrefs.sound ? "on" : "off");
});

function chime() {
  const AudioContext = window.AudioContext || window.webkitAudioContext;
  if (!AudioContext) return;
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const volume = audio.createGain();
  tone.frequency.value = 880;
  volume.gain.setValueAtTime(0.08, audio.currentTime);
  volume.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.4);
  tone.connect(volume).connect(audio.destination);
  tone.start();
  tone.stop(audio.currentTime + 0.4);
}

function notify(title, text, threadId) {
  if (notifyPrefs.sound) chime();
  if (!notifyPrefs.desktop || !("Notification" in window) || Notification.permission !== "granted") return;
  const shown = new Notification(title, { body: text, tag: `${title}:${threadId}` });
  shown.onclick = () => {
    window.focus();
    if (threadId) select(threadId);
  };
}

// New waiting conversations, escalations (supervisors) and failed commits (supervisors): said once each.
function noticeChanges(before, after, event) {
  const name = after.customer ? after.customer.name : "A customer";
  const wasWaiting = before && matches(before, "waiting");
  if (matches(after, "waiting") && !wasWaiting) {
    notify("Waiting for you", `${name}: ${after.attention || (after.proposals_waiting ? "a return to review" : "a reply")}`, after.thread_id);
  }
  if (body.canRetry && event.kind === "proposal" && event.action === "escalated") {
    notify("A supervisor is asked", `${event.proposal.escalation?.by || "An agent"} asks you to decide on ${name}'s return.`, after.thread_id);
  }
  if (body.canRetry && (after.commits_failed || 0) > ((before && before.commits_failed) || 0)) {
    notify("A commit failed", `${name}'s return could not be committed: it is in the failed queue.`, after.thread_id);
  }
}

// --- toasts: what needs this person, said once, in the page -----------------------------------
function toast(text, threadId) {
  const box = $("toasts");
  const note = el("button", "toast", text);
  note.type = "button";
  note.addEventListener("click", () => {
    note.remove();
    if (threadId) select(threadId);
  });
  box.appendChild(note);
  setTimeout(() => note.remove(), 15000);
}

export { notifyPrefs, renderNotifyControls, chime, notify, noticeChanges, toast };
