// civiccert verifier page. Sends the chosen file (or camera frames) as the raw body of POST /verify/check and
// renders the answer with textContent only: claims come from untrusted input and are never parsed as HTML.
"use strict";

const TEXT = {
  ja: {
    title: "証明書の確認 — civiccert", heading: "証明書の確認", langNote: "表示言語を切り替えます",
    lead: "住民票の写し・印鑑登録証明書の印刷物(PDF・写真・スキャン)、または証明書ファイルを確認します。",
    uploadHeading: "ファイルで確認", fileLabel: "PDF・画像・証明書ファイルを選ぶ",
    fileHint: "ファイルはこの確認のためだけに送信され、保存されません(最大16 MB)。", verifyButton: "確認する",
    cameraHeading: "カメラで確認", cameraHint: "印刷物の二次元コード(QR)をカメラに向けてください。",
    cameraStart: "カメラで読み取る", cameraStop: "カメラを止める", videoLabel: "カメラの映像",
    resultsHeading: "確認結果", footer: "確認はこのサーバーの発行者の鍵とブロックチェーンの記録で行います。",
    verdictSub: { VALID: "VALID", INVALID: "INVALID", INDETERMINATE: "INDETERMINATE" },
    issuer: "発行者", issued: "発行日", expires: "有効期限", source: "読み取り箇所",
    checks: "確認項目", outcome: "結果", reason: "理由", note: "補足", claims: "開示された事項",
    noClaims: "開示された事項はありません。",
    warning: {
      INVALID: "この証明書は有効ではありません。下の内容を事実として扱わないでください。",
      INDETERMINATE: "確認できなかった項目があります。下の内容はまだ信頼できません。",
    },
    chooseFirst: "ファイルを選んでください。", verifying: "確認しています…", done: "確認しました。",
    scanning: "QRを探しています…カメラに印刷物のQRを向けてください。", cameraOff: "カメラを止めました。",
    cameraDenied: "カメラを使えません(許可されていないか、カメラがありません)。ファイルで確認してください。",
    errors: {
      qr_not_found: "QRコードが見つかりませんでした。QR全体が写るように、明るい所で撮り直してください。",
      input_too_large: "ファイルが大きすぎます(最大16 MB)。",
      image_unreadable: "画像を読み込めませんでした。", pdf_unreadable: "PDFを読み込めませんでした。",
      malformed: "PDF・画像・証明書ファイルのいずれでもありません。", field_missing: "ファイルが空です。",
      network: "サーバーに接続できませんでした。", other: "確認できませんでした。",
    },
  },
  en: {
    title: "Certificate check — civiccert", heading: "Certificate check", langNote: "Switch the display language",
    lead: "Check a printed residence record or seal registration certificate (PDF, photo or scan), or a credential file.",
    uploadHeading: "Check a file", fileLabel: "Choose a PDF, an image or a credential file",
    fileHint: "The file is sent only for this check and is not stored (at most 16 MB).", verifyButton: "Verify",
    cameraHeading: "Check with the camera", cameraHint: "Hold the printed copy's QR code in front of the camera.",
    cameraStart: "Scan with the camera", cameraStop: "Stop the camera", videoLabel: "Camera view",
    resultsHeading: "Result", footer: "Checked against this server's issuer keys and the blockchain record.",
    verdictSub: { VALID: "有効", INVALID: "無効", INDETERMINATE: "判定不能" },
    issuer: "Issuer", issued: "Issued", expires: "Expires", source: "Read from",
    checks: "Checks", outcome: "Outcome", reason: "Reason", note: "Note", claims: "Disclosed claims",
    noClaims: "No claims were disclosed.",
    warning: {
      INVALID: "This certificate is not valid. Do not rely on the contents below.",
      INDETERMINATE: "Some checks could not be made. The contents below cannot be relied on yet.",
    },
    chooseFirst: "Choose a file first.", verifying: "Verifying…", done: "Verified.",
    scanning: "Looking for a QR code… hold the printed copy's QR in front of the camera.", cameraOff: "Camera stopped.",
    cameraDenied: "The camera is not available (not allowed, or none). Please check a file instead.",
    errors: {
      qr_not_found: "No QR code was found. Take the picture again in good light with the whole QR visible.",
      input_too_large: "The file is too large (at most 16 MB).",
      image_unreadable: "The image cannot be read.", pdf_unreadable: "The PDF cannot be read.",
      malformed: "This is neither a PDF, an image nor a credential file.", field_missing: "The file is empty.",
      network: "The server cannot be reached.", other: "The check could not be made.",
    },
  },
};

let lang = "ja";
let lastResults = null;
let stream = null;
let scanTimer = null;
let inFlight = false;

const $ = (id) => document.getElementById(id);

function t(key) { return TEXT[lang][key]; }

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  document.querySelectorAll("[data-i18n-label]").forEach((node) => {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  });
  const other = lang === "ja" ? "en" : "ja";
  const button = $("lang");
  button.textContent = other === "en" ? "English" : "日本語";
  button.lang = other;
  $("camera").textContent = stream ? t("cameraStop") : t("cameraStart");
  setStatus(lastStatus.key, lastStatus.isError);
  if (lastResults) renderResults(lastResults, false);
}

// the status line is kept as a key (e.g. "done", "errors.qr_not_found") so that a language switch re-renders it
let lastStatus = { key: "", isError: false };

function statusText(key) {
  if (!key) return "";
  return key.startsWith("errors.") ? t("errors")[key.slice(7)] : t(key);
}

function setStatus(key, isError) {
  lastStatus = { key, isError: Boolean(isError) };
  const status = $("status");
  status.textContent = statusText(key);
  status.classList.toggle("error", Boolean(isError));
}

async function post(body) {
  const response = await fetch("/verify/check", {
    method: "POST", body, headers: { "Content-Type": "application/octet-stream" },
    credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, data };
}

// One answer of /verify/check, from an upload or a camera frame: its results, or the reason it has none.
function answered({ ok, data }) { return Boolean(ok && data && data.results); }

function show(answer) {
  if (answered(answer)) {
    setStatus("done");
    renderResults(answer.data.results, true);
  } else {
    setStatus(errorKey(answer.data && answer.data.code), true);
  }
}

function errorKey(code) { return code && TEXT.ja.errors[code] ? `errors.${code}` : "errors.other"; }

function renderResults(results, focus) {
  lastResults = results;
  const host = $("results");
  host.querySelectorAll(".result").forEach((node) => node.remove());
  results.forEach((result, index) => host.appendChild(renderResult(result, index, results.length)));
  if (focus) host.focus();
}

function renderResult(result, index, count) {
  const shown = result.display[lang];
  const article = el("article", null, "result");
  article.setAttribute("aria-labelledby", `verdict-${index}`);
  const verdict = el("p", null, `verdict ${result.verdict}`);
  verdict.id = `verdict-${index}`;
  const mark = { VALID: "✓ ", INVALID: "✗ ", INDETERMINATE: "? " }[result.verdict];
  verdict.appendChild(el("span", mark + shown.verdict));
  const sub = el("span", t("verdictSub")[result.verdict], "sub");
  sub.lang = lang === "ja" ? "en" : "ja";
  verdict.appendChild(sub);
  article.appendChild(verdict);

  const body = el("div", null, "result-body");
  const meta = el("dl", null, "meta");
  const facts = [["issuer", shown.issuer], ["issued", shown.issued_at], ["expires", shown.expires_at]];
  if (count > 1) facts.push(["source", result.source]);
  facts.filter(([, value]) => value).forEach(([key, value]) => {
    meta.appendChild(el("dt", t(key)));
    const dd = el("dd", value);
    if (key === "issuer" && lang !== "ja") dd.lang = "ja";
    meta.appendChild(dd);
  });
  body.appendChild(meta);
  if (result.verdict !== "VALID") body.appendChild(el("p", t("warning")[result.verdict], `warning ${result.verdict}`));

  const table = el("table");
  table.appendChild(el("caption", t("checks")));
  const head = el("tr");
  ["checks", "outcome", "reason", "note"].forEach((key) => {
    const th = el("th", t(key));
    th.scope = "col";
    head.appendChild(th);
  });
  table.appendChild(el("thead")).appendChild(head);
  const rows = el("tbody");
  result.checks.forEach((check, i) => {
    const tr = el("tr");
    const th = el("th", shown.checks[i].label);
    th.scope = "row";
    tr.appendChild(th);
    tr.appendChild(el("td", shown.checks[i].outcome, `outcome-${check.outcome}`));
    const reason = el("td");
    reason.appendChild(el("code", check.code));
    tr.appendChild(reason);
    tr.appendChild(el("td", check.detail));
    rows.appendChild(tr);
  });
  table.appendChild(rows);
  body.appendChild(table);

  const claims = el("section", null, "claims");
  const heading = el("h3", t("claims"));
  heading.id = `claims-${index}`;
  claims.setAttribute("aria-labelledby", heading.id);
  claims.appendChild(heading);
  if (shown.claims.length === 0) {
    claims.appendChild(el("p", t("noClaims")));
  } else {
    const list = el("dl");
    shown.claims.forEach((row) => {
      const line = el("div", null, `row depth-${Math.min(row.depth, 4)} kind-${row.kind}`);
      line.appendChild(el("dt", row.kind === "bullet" ? "•" : row.label));
      const value = el("dd", row.value);
      if (lang !== "ja") value.lang = "ja";  // register values are Japanese text whatever the page language
      line.appendChild(value);
      list.appendChild(line);
    });
    claims.appendChild(list);
  }
  body.appendChild(claims);
  article.appendChild(body);
  return article;
}

async function verifyFile(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) { setStatus("chooseFirst", true); $("file").focus(); return; }
  const button = $("verify");
  button.disabled = true;
  setStatus("verifying");
  try {
    show(await post(file));
  } catch (_) {
    setStatus("errors.network", true);
  } finally {
    button.disabled = false;
  }
}

// --- camera: frames go to the same endpoint as uploads (the server's QR decoder), about one a second ---
async function toggleCamera() {
  if (stream) { stopCamera("cameraOff"); return; }
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
    });
  } catch (_) {
    stream = null;
    setStatus("cameraDenied", true);
    return;
  }
  const video = $("video");
  video.srcObject = stream;
  video.hidden = false;
  await video.play().catch(() => {});
  const button = $("camera");
  button.setAttribute("aria-pressed", "true");
  button.textContent = t("cameraStop");
  setStatus("scanning");
  scanTimer = setInterval(scanFrame, 900);
}

function stopCamera(message) {
  if (scanTimer) clearInterval(scanTimer);
  scanTimer = null;
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  const video = $("video");
  video.srcObject = null;
  video.hidden = true;
  const button = $("camera");
  button.setAttribute("aria-pressed", "false");
  button.textContent = t("cameraStart");
  if (message !== undefined) setStatus(message);
}

async function scanFrame() {
  const video = $("video");
  if (inFlight || !stream || video.videoWidth === 0) return;
  inFlight = true;
  try {
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
    if (!blob || !stream) return;
    const answer = await post(blob);
    if (!answered(answer) && answer.data && answer.data.code === "qr_not_found") return;  // keep scanning
    stopCamera();
    show(answer);
  } catch (_) {
    stopCamera();
    setStatus("errors.network", true);
  } finally {
    inFlight = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("upload-form").addEventListener("submit", verifyFile);
  $("camera").addEventListener("click", toggleCamera);
  $("lang").addEventListener("click", () => { lang = lang === "ja" ? "en" : "ja"; applyLanguage(); });
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) $("camera").disabled = true;
});
