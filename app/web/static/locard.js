// Times in the viewer's own zone, with UTC beside them; form times entered in that zone.
// Without this script every page still works in UTC, as its labels then say.
(function () {
  "use strict";
  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    return;
  }
  if (!zone) return;
  // Forms with a time field tell the server which zone the typed time is in.
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("input[type=datetime-local]")) return;
    var tz = document.createElement("input");
    tz.type = "hidden";
    tz.name = "tz";
    tz.value = zone;
    form.appendChild(tz);
  });
  document.querySelectorAll("[data-zone-label]").forEach(function (el) {
    el.textContent = "your time, " + zone;
  });
  if (zone === "UTC" || zone === "Etc/UTC") return;
  var local = new Intl.DateTimeFormat("en-CA", {
    timeZone: zone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    timeZoneName: "short",
  });
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d.getTime())) return;
    var utc = t.textContent;
    t.textContent = local.format(d).replace(",", "");
    var beside = document.createElement("span");
    beside.className = "utc";
    beside.textContent = " (" + utc + ")";
    t.after(beside);
  });
})();
