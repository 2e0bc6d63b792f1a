// Live updates for the booking and status pages (served at /live.js; the
// pages work without it, as the server renders them whole).
//
// An element with data-live="<url>" opens one Server-Sent Events stream:
// - "week" events ({"facility","days"}) redraw the week table whose
//   data-facility is that facility;
// - "status" events (the JSON of GET /api/status) redraw the status table.
// Everything is built with textContent: nothing from the server is parsed
// as HTML.
(function () {
  'use strict';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function clock(at) { return at.length > 4 ? at.substring(4) : at; }

  function minutes(at) {
    var p = clock(at).split(':');
    return parseInt(p[0], 10) * 60 + parseInt(p[1], 10);
  }

  function hhmm(m) {
    var h = Math.floor(m / 60), n = m % 60;
    return (h < 10 ? '0' : '') + h + ':' + (n < 10 ? '0' : '') + n;
  }

  // What a day's free ranges leave out of 00:00-24:00.
  function booked(free) {
    var spans = free.map(function (r) { return [minutes(r.start), minutes(r.end)]; });
    spans.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    var out = [], at = 0;
    spans.forEach(function (s) {
      if (s[0] > at) { out.push([at, s[0]]); }
      at = Math.max(at, s[1]);
    });
    if (at < 24 * 60) { out.push([at, 24 * 60]); }
    return out;
  }

  function ranges(td, list, cls) {
    if (list.length === 0) { td.textContent = '\u2014'; return; }
    list.forEach(function (r) {
      td.appendChild(el('span', cls, r[0] + '\u2013' + r[1]));
      td.appendChild(document.createTextNode(' '));
    });
  }

  function drawWeek(week) {
    var tables = document.querySelectorAll('table[data-facility]');
    for (var i = 0; i < tables.length; i++) {
      var table = tables[i];
      if (table.getAttribute('data-facility') !== week.facility) { continue; }
      var body = el('tbody');
      week.days.forEach(function (d) {
        var tr = el('tr');
        var th = el('th', null, d.name);
        th.setAttribute('scope', 'row');
        th.setAttribute('data-label', 'Day');
        tr.appendChild(th);
        var free = el('td');
        free.setAttribute('data-label', 'Free');
        ranges(free, d.free.map(function (r) { return [clock(r.start), clock(r.end)]; }), 'free');
        tr.appendChild(free);
        var taken = el('td');
        taken.setAttribute('data-label', 'Booked');
        ranges(taken, booked(d.free).map(function (r) { return [hhmm(r[0]), hhmm(r[1])]; }), 'booked');
        tr.appendChild(taken);
        body.appendChild(tr);
      });
      table.replaceChild(body, table.tBodies[0]);
      table.setAttribute('data-updated', String(Date.now()));
    }
  }

  function cell(tr, label, cls) {
    var td = el('td', cls);
    td.setAttribute('data-label', label);
    tr.appendChild(td);
    return td;
  }

  function drawStatus(status) {
    var table = document.querySelector('table[data-status]');
    var who = document.querySelector('[data-coordinator]');
    if (who) {
      who.textContent = '';
      who.appendChild(document.createTextNode('Coordinator: '));
      if (status.coordinator) {
        who.appendChild(el('strong', 'coordinator', status.coordinator));
      } else {
        who.appendChild(el('span', 'no', 'none (an election may be under way)'));
      }
    }
    if (!table) { return; }
    var body = el('tbody');
    status.nodes.forEach(function (n) {
      var tr = el('tr');
      var name = cell(tr, 'Node', 'name');
      name.textContent = n.id;
      if (status.coordinator === n.id) {
        name.appendChild(document.createTextNode(' '));
        var mark = el('span', 'state final', 'coordinator');
        mark.title = 'the coordinator';
        name.appendChild(mark);
      }
      cell(tr, 'State').appendChild(n.state === 'up' ? el('span', 'yes', 'up') : el('span', 'no', 'down'));
      cell(tr, 'Peer address').appendChild(el('code', null, n.peer_address));
      cell(tr, 'Priority').textContent = String(n.priority);
      cell(tr, 'Follows').textContent = n.coordinator || '\u2013';
      var term = cell(tr, 'Term');
      if (n.term === null || n.term === undefined) {
        term.textContent = '\u2013';
      } else {
        term.textContent = String(n.term);
        if (n.authority) {
          term.appendChild(document.createTextNode(' '));
          var star = el('span', 'authority', '\u2605');
          star.title = "holds a majority's authority";
          term.appendChild(star);
        }
      }
      var services = cell(tr, 'Services');
      if (n.services.length === 0) { services.textContent = '\u2013'; }
      n.services.forEach(function (s, i) {
        if (i > 0) { services.appendChild(el('br')); }
        services.appendChild(document.createTextNode(s));
      });
      body.appendChild(tr);
    });
    table.replaceChild(body, table.tBodies[0]);
    table.setAttribute('data-updated', String(Date.now()));
  }

  function listen(url) {
    if (!window.EventSource) { return; }
    // EventSource reconnects by itself after an error (a node restart),
    // and the first event on each connection is the state now.
    var source = new EventSource(url);
    source.addEventListener('week', function (e) {
      try { drawWeek(JSON.parse(e.data)); } catch (err) { /* keep the page as it is */ }
    });
    source.addEventListener('status', function (e) {
      try { drawStatus(JSON.parse(e.data)); } catch (err) { /* keep the page as it is */ }
    });
  }

  var streams = document.querySelectorAll('[data-live]');
  for (var i = 0; i < streams.length; i++) {
    listen(streams[i].getAttribute('data-live'));
  }
})();
