/* Directory map: Leaflet with the configured tiles, markers from the JSON feed.
 *
 * Everything comes from data- attributes (the CSP forbids inline scripts). Texts from the
 * server are inserted with textContent, never as HTML. When tiles cannot load (offline, or
 * a tile server refusing), the markers still show on a plain background and a notice says
 * why; the list beside the map works with or without JavaScript.
 */
(function () {
  "use strict";

  var element = document.getElementById("directory-map");
  if (!element || typeof L === "undefined") {
    return;
  }
  var data = element.dataset;
  var status = document.getElementById("directory-map-status");
  // Metropolitan France; fitBounds below zooms on the markers once they arrive.
  var map = L.map(element).setView([46.6, 2.4], 6);
  var markersById = {};

  if (data.tilesUrl) {
    var tiles = L.tileLayer(data.tilesUrl, {
      maxZoom: 19,
      attribution: data.tilesAttribution || "",
      // The back office sends no Referer anywhere; tile servers such as OpenStreetMap's
      // ask for one, so the tiles (only) carry the site's origin, never a page path.
      referrerPolicy: "strict-origin"
    });
    var warned = false;
    tiles.on("tileerror", function () {
      if (!warned) {
        warned = true;
        notice(data.textNoTiles);
      }
    });
    tiles.addTo(map);
  } else {
    notice(data.textNoTiles);
  }

  function notice(text) {
    var box = document.createElement("p");
    box.className = "directory-map-notice";
    box.textContent = text;
    element.appendChild(box);
  }

  function line(text, className) {
    var paragraph = document.createElement("p");
    if (className) {
      paragraph.className = className;
    }
    paragraph.textContent = text;
    return paragraph;
  }

  function popupFor(structure) {
    var box = document.createElement("div");
    box.className = "directory-popup";
    var title = document.createElement("h4");
    title.textContent = structure.name;
    box.appendChild(title);
    box.appendChild(line(structure.category_label + " — " + structure.city +
      " (" + structure.department + ")"));
    if (structure.services.length) {
      box.appendChild(line(structure.services.join(", "), "small"));
    }
    if (structure.phone) {
      box.appendChild(line(structure.phone));
    }
    var states = {verified: data.textVerified, due: data.textDue, unverified: data.textUnverified};
    box.appendChild(line(states[structure.verification] || data.textUnverified,
      structure.verification === "verified" ? "text-primary small" : "text-danger small"));
    if (structure.trained) {
      box.appendChild(line("✓ " + data.textTrained, "text-success small"));
    }
    if (structure.approximate) {
      box.appendChild(line(data.textApproximate, "text-muted small"));
    }
    var link = document.createElement("a");
    link.href = structure.url;
    link.textContent = data.textDetails;
    box.appendChild(link);
    return box;
  }

  function select(id) {
    var items = document.querySelectorAll(".directory-side-list li");
    for (var i = 0; i < items.length; i++) {
      items[i].classList.toggle("directory-selected", items[i].dataset.structureId === id);
    }
  }

  function show(payload) {
    payload.structures.forEach(function (structure) {
      var marker = L.circleMarker([structure.lat, structure.lon], {
        radius: structure.approximate ? 6 : 8,
        color: "#ffffff",
        weight: 1.5,
        fillColor: structure.colour,
        fillOpacity: structure.approximate ? 0.6 : 0.9,
        dashArray: structure.approximate ? "2,2" : null
      });
      marker.bindPopup(popupFor(structure));
      marker.on("click", function () { select(String(structure.id)); });
      marker.addTo(map);
      markersById[String(structure.id)] = marker;
    });
    // Mainland France first: overseas markers would otherwise shrink it to a dot. The
    // area buttons below the map reach the overseas departments.
    var overseas = { "971": 1, "972": 1, "973": 1, "974": 1, "976": 1 };
    var mainland = payload.structures.filter(function (s) { return !overseas[s.department]; });
    var first = (mainland.length ? mainland : payload.structures).map(function (s) {
      return [s.lat, s.lon];
    });
    if (first.length) {
      map.fitBounds(first, { padding: [20, 20], maxZoom: 14 });
    }
    var focused = markersById[data.focusId || ""];
    if (focused) {
      map.setView(focused.getLatLng(), 15);
      focused.openPopup();
      select(data.focusId);
    }
    if (payload.without_coordinates && status) {
      status.textContent = data.textWithout + " " + payload.without_coordinates;
    }
  }

  var areaBar = document.querySelector(".directory-areas");
  if (areaBar) {
    areaBar.hidden = false;
    areaBar.addEventListener("click", function (event) {
      var button = event.target.closest(".directory-area");
      if (button) {
        var b = button.dataset.bounds.split(",").map(Number);
        map.fitBounds([[b[0], b[1]], [b[2], b[3]]]);
      }
    });
  }

  var locateButtons = document.querySelectorAll(".directory-locate");
  for (var i = 0; i < locateButtons.length; i++) {
    locateButtons[i].addEventListener("click", function (event) {
      var id = event.currentTarget.dataset.structureId;
      var marker = markersById[id];
      if (marker) {
        map.setView(marker.getLatLng(), Math.max(map.getZoom(), 13));
        marker.openPopup();
        select(id);
        element.scrollIntoView({ behavior: "smooth", block: "nearest" });
      }
    });
  }

  fetch(data.markersUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) {
        throw new Error(String(response.status));
      }
      return response.json();
    })
    .then(show)
    .catch(function () {
      if (status) {
        status.textContent = data.textFailed;
      }
    });
})();
