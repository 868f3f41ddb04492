// The Verify page: send the chosen package as the raw body of POST /ui/verify (streamed to disk
// by the server, like the API's upload) and show the verdict fragment it answers.
import { t } from "./i18n.js";

const form = document.getElementById("verify-form");
const input = document.getElementById("package");
const state = document.getElementById("verify-state");
const out = document.getElementById("verdict");

function message(text) {
  const doc = new DOMParser().parseFromString(text, "text/html");
  const found = doc.getElementById("error-message");
  return found ? found.textContent : t("js.verify.refused_plain");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = input.files[0];
  out.replaceChildren();
  if (!file) { state.textContent = t("js.verify.choose"); return; }
  if (file.size > Number(form.dataset.max)) { state.textContent = t("js.verify.too_big"); return; }
  state.textContent = t("js.verify.busy", { name: file.name, size: file.size });
  form.dataset.busy = "yes";
  try {
    const r = await fetch("/ui/verify", {method: "POST", body: file, credentials: "same-origin",
                                         headers: {"Content-Type": "application/zip", "X-CSRF-Token": form.dataset.csrf}});
    const text = await r.text();
    if (r.ok) {
      out.append(new DOMParser().parseFromString(text, "text/html").body.firstElementChild);
      state.textContent = "";
    } else {
      state.textContent = t("js.verify.refused", { status: r.status, message: message(text) });
    }
  } catch (err) {
    state.textContent = t("js.verify.failed", { error: err });
  } finally {
    form.dataset.busy = "no";
  }
});
