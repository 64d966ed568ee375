/* otpgate.js: small progressive enhancements for the otpgate pages. Every
 * page works without it. It adds the "Send again" countdown
 * ([data-resend-after]), copy / download / print for recovery codes and
 * the authenticator setup key ([data-copy], [data-download], [data-print]),
 * a search box over the country picker ([data-filter-label]), and keeps
 * the development outbox up to date ([data-outbox-latest]), showing the
 * buttons that need it ([data-js-only]). It never submits a form by
 * itself. No dependencies; texts come from the page (data-*). */
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

  /* The file says whose codes they are and when they were made (the page
   * gives the lines: data-title, data-account, data-made). */
  function download(button) {
    var head = ["data-title", "data-account", "data-made"]
      .map(function (name) {
        return button.getAttribute(name);
      })
      .filter(function (line) {
        return line;
      });
    var body = targetText(button.getAttribute("data-download"), false);
    var text = (head.length ? head.join("\n") + "\n\n" : "") + body + "\n";
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

  /* A search box above a long <select>: typing keeps the options whose
   * text (or data-alt: ISO code, English name) contains what was typed,
   * and selects the first of them. The select alone works without it. */
  function countryFilter(select) {
    var field = select.parentNode;
    var label = document.createElement("label");
    var input = document.createElement("input");
    var hint = document.createElement("p");
    input.type = "search";
    input.id = select.id + "-search";
    input.autocomplete = "off";
    input.setAttribute("aria-describedby", input.id + "-hint");
    input.setAttribute("aria-controls", select.id);
    label.htmlFor = input.id;
    label.textContent = select.getAttribute("data-filter-label");
    hint.id = input.id + "-hint";
    hint.className = "hint";
    hint.textContent = select.getAttribute("data-filter-hint") || "";
    var box = document.createElement("div");
    box.className = "field filter";
    box.appendChild(label);
    box.appendChild(hint);
    box.appendChild(input);
    field.parentNode.insertBefore(box, field);
    var all = Array.prototype.slice.call(select.options);
    function norm(s) {
      return s.toLowerCase().replace(/[+\s]/g, "");
    }
    input.addEventListener("input", function () {
      var q = norm(input.value);
      var keep = all.filter(function (o) {
        return !q || norm(o.text + (o.getAttribute("data-alt") || "")).indexOf(q) >= 0;
      });
      if (!keep.length) {
        return; /* nothing matches: leave the list as it was */
      }
      var chosen = select.options[select.selectedIndex];
      select.textContent = "";
      keep.forEach(function (o) {
        select.appendChild(o);
      });
      if (keep.indexOf(chosen) < 0) {
        select.selectedIndex = 0;
      } else {
        chosen.selected = true;
      }
    });
  }

  /* The development outbox: every few seconds, fetch the page again and
   * swap in its list when a newer message came. */
  function outboxRefresh(list) {
    var status = document.getElementById("outbox-status");
    function poll() {
      fetch(window.location.pathname, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          if (!html) {
            return;
          }
          var doc = new DOMParser().parseFromString(html, "text/html");
          var fresh = doc.getElementById("outbox");
          var now = document.getElementById("outbox");
          if (!fresh || !now) {
            return;
          }
          if (fresh.getAttribute("data-outbox-latest") !== now.getAttribute("data-outbox-latest")) {
            var node = document.importNode(fresh, true);
            now.parentNode.replaceChild(node, now);
            each("#outbox [data-js-only]", function (el) {
              el.hidden = false;
            });
            if (status) {
              status.textContent = "";
              status.textContent = status.getAttribute("data-done") || "";
            }
          }
        })
        .catch(function () {})
        .then(function () {
          window.setTimeout(poll, 2000);
        });
    }
    window.setTimeout(poll, 2000);
  }

  function init() {
    each("[data-resend-after]", countdown);
    each("select[data-filter-label]", countryFilter);
    each("[data-outbox-latest]", outboxRefresh);
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
