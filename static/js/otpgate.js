/* otpgate.js: small progressive enhancements for the otpgate pages. Every
 * page works without it. It adds the "Send again" countdown
 * ([data-resend-after]), and copy / download / print for recovery codes and
 * the authenticator setup key ([data-copy], [data-download], [data-print]),
 * showing the buttons that need it ([data-js-only]). It never submits a
 * form by itself. No dependencies; texts come from the page (data-*). */
(function () {
  "use strict";

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  /* "Send again" stays disabled for N seconds, showing the time left; the
   * server still refuses an early resend on its own. */
  function countdown(button) {
    var seconds = parseInt(button.getAttribute("data-resend-after"), 10);
    if (!(seconds > 0)) {
      return;
    }
    var label = button.textContent;
    var wait = button.getAttribute("data-wait-label") || "%s";
    var deadline = Date.now() + seconds * 1000;
    button.disabled = true;
    function tick() {
      var left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.textContent = wait.replace("%s", String(left));
      window.setTimeout(tick, Math.min(1000, deadline - Date.now() - (left - 1) * 1000));
    }
    tick();
  }

  /* The text of a copy/download target: one line per list item, or its
   * text; data-copy-compact drops the spaces (a grouped setup key). */
  function targetText(id, compact) {
    var el = document.getElementById(id);
    if (!el) {
      return "";
    }
    var items = el.querySelectorAll("li");
    var text;
    if (items.length) {
      text = Array.prototype.map
        .call(items, function (li) {
          return li.textContent.trim();
        })
        .join("\n");
    } else {
      text = el.textContent.trim();
    }
    return compact ? text.replace(/\s+/g, "") : text;
  }

  function say(button, ok) {
    var status = document.querySelector(".js-status");
    if (!status) {
      return;
    }
    var attr = ok ? "data-done" : "data-failed";
    status.textContent =
      button.getAttribute(attr) || status.getAttribute(attr) || "";
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    document.body.removeChild(area);
    return ok;
  }

  function copy(button) {
    var text = targetText(
      button.getAttribute("data-copy"),
      button.hasAttribute("data-copy-compact")
    );
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () {
          say(button, true);
        },
        function () {
          say(button, fallbackCopy(text));
        }
      );
    } else {
      say(button, fallbackCopy(text));
    }
  }

  function download(button) {
    var title = button.getAttribute("data-title");
    var body = targetText(button.getAttribute("data-download"), false);
    var text = (title ? title + "\n\n" : "") + body + "\n";
    var blob = new Blob([text], { type: "text/plain;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = button.getAttribute("data-filename") || "otpgate-recovery-codes.txt";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    window.setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 1000);
  }

  function init() {
    each("[data-resend-after]", countdown);
    each("[data-js-only]", function (el) {
      el.hidden = false;
    });
    document.addEventListener("click", function (event) {
      var button = event.target.closest
        ? event.target.closest("[data-copy],[data-download],[data-print]")
        : null;
      if (!button) {
        return;
      }
      if (button.hasAttribute("data-copy")) {
        copy(button);
      } else if (button.hasAttribute("data-download")) {
        download(button);
      } else {
        window.print();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
