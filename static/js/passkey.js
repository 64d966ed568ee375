/* passkey.js: the WebAuthn ceremonies of the otpgate pages. A form with
 * data-passkey="create" (adding a passkey) or "get" (signing in) carries
 * the server's options as JSON in data-options; its submit button
 * ([data-passkey-button], hidden until this script shows it) runs
 * navigator.credentials.create() or .get(), puts the browser's
 * PublicKeyCredential JSON (toJSON()) into the hidden field "credential"
 * and posts the form, so the server flow stays POST/redirect with CSRF.
 * Where WebAuthn is missing it shows [data-passkey-unsupported] instead;
 * without JavaScript the page's <noscript> note says the same. Texts come
 * from the page (data-msg-*). No dependencies. */
(function () {
  "use strict";

  function toBuffer(b64url) {
    var b64 = String(b64url).replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = window.atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return window.btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: toBuffer(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  /* The options as the browser takes them: its own JSON parsers where it
   * has them (WebAuthn Level 3), else base64url turned into buffers here. */
  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: toBuffer(json.user.id) });
    o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = toBuffer(json.challenge);
    o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  /* The credential as toJSON() gives it, written by hand where the
   * browser lacks toJSON(). */
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      return cred.toJSON();
    }
    var r = cred.response;
    var response = { clientDataJSON: toBase64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toBase64url(r.attestationObject);
      if (typeof r.getTransports === "function") {
        response.transports = r.getTransports();
      }
    } else {
      response.authenticatorData = toBase64url(r.authenticatorData);
      response.signature = toBase64url(r.signature);
      response.userHandle = r.userHandle ? toBase64url(r.userHandle) : null;
    }
    return {
      id: cred.id,
      rawId: toBase64url(cred.rawId),
      type: cred.type,
      authenticatorAttachment: cred.authenticatorAttachment || null,
      clientExtensionResults:
        typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
      response: response,
    };
  }

  function say(form, key) {
    var status = form.querySelector(".passkey-status");
    if (status) {
      status.textContent = key ? form.getAttribute("data-msg-" + key) || "" : "";
    }
  }

  function run(form, button) {
    var json;
    try {
      json = JSON.parse(form.getAttribute("data-options"));
    } catch (e) {
      say(form, "failed");
      return;
    }
    var create = form.getAttribute("data-passkey") === "create";
    button.disabled = true;
    say(form, "");
    var ceremony;
    try {
      ceremony = create
        ? navigator.credentials.create({ publicKey: creationOptions(json) })
        : navigator.credentials.get({ publicKey: requestOptions(json) });
    } catch (e) {
      ceremony = Promise.reject(e);
    }
    ceremony.then(
      function (cred) {
        if (!cred) {
          throw new Error("no credential");
        }
        form.elements.credential.value = JSON.stringify(credentialJSON(cred));
        form.submit();
      }
    ).catch(function (err) {
      button.disabled = false;
      var name = err && err.name;
      /* NotAllowedError: cancelled or timed out; InvalidStateError on
       * create: this authenticator holds one of the user's passkeys. */
      say(form, name === "NotAllowedError" || name === "AbortError" ? "cancelled"
        : create && name === "InvalidStateError" ? "exists" : "failed");
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-passkey]");
    if (!forms.length) {
      return;
    }
    var supported = !!(window.PublicKeyCredential && navigator.credentials &&
      window.isSecureContext);
    if (!supported) {
      Array.prototype.forEach.call(document.querySelectorAll("[data-passkey-unsupported]"),
        function (el) {
          el.hidden = false;
        });
      return;
    }
    Array.prototype.forEach.call(forms, function (form) {
      var button = form.querySelector("[data-passkey-button]");
      if (!button) {
        return;
      }
      button.hidden = false;
      form.addEventListener("submit", function (event) {
        if (form.elements.credential.value) {
          return;
        }
        event.preventDefault();
        run(form, button);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
