// Cadence web UI: small progressive enhancements on top of htmx. Every page works without this.
(function () {
  "use strict";

  // Times on the pages are shown in the browser's timezone: the server reads this cookie.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("cadence_tz=" + encodeURIComponent(tz)) === -1) {
      document.cookie = "cadence_tz=" + encodeURIComponent(tz) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* older browsers: UTC */ }

  function flash(message, kind) {
    var box = document.getElementById("flash");
    if (!box) { return; }
    box.innerHTML = "";
    var p = document.createElement("p");
    p.className = "notice " + (kind || "error");
    p.setAttribute("role", kind === "ok" ? "status" : "alert");
    p.textContent = message;
    box.appendChild(p);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    // The session ended (logged out elsewhere, expired): go to the login form instead of swapping it in.
    if (xhr.responseURL && new URL(xhr.responseURL).pathname === "/ui/login") {
      event.detail.shouldSwap = false;
      window.location.assign("/ui/login?next=" + encodeURIComponent(window.location.pathname + window.location.search));
      return;
    }
    if (xhr.status >= 400) {  // refusals come as a short message: shown above the page, the row stays
      var message = "Something went wrong (" + xhr.status + ").";
      var type = xhr.getResponseHeader("Content-Type") || "";
      try {
        if (type.indexOf("json") !== -1) {
          var detail = JSON.parse(xhr.responseText).detail;
          message = typeof detail === "string" ? detail : JSON.stringify(detail);
        } else {
          var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
          var found = doc.querySelector("[data-error]");
          if (found) { message = found.textContent; }
        }
      } catch (e) { /* keep the generic message */ }
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      flash(message, "error");
    }
  });

  // Filters send only what is set, so the address in the bar stays short and shareable.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") { return; }
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (key) { if (params[key] === "") { delete params[key]; } });
  });

  document.addEventListener("htmx:sendError", function () {
    flash("Cadence could not be reached. Check your connection and try again.", "error");
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (field && navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Copied"; });
    } else if (field) {
      field.select();
    }
  });
})();
