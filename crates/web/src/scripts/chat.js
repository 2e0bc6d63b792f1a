// The /chat page's client: the course chat protocol's JSON messages over
// the WebSocket at /api/chat, one message per frame. It does what the
// course's client.jar does, with buttons instead of #commands.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var join = $('chat-join');
  if (!join) { return; }
  var room = $('chat-room');
  var status = $('chat-status');
  var log = $('chat-log');
  var rooms = $('chat-rooms');
  var ws = null;
  var me = '';
  var current = '';
  var owned = '';
  var server = join.getAttribute('data-server') || '';
  // A room to enter once connected (a final event's page links one): made
  // if nobody has, else joined.
  var wanted = join.getAttribute('data-room') || '';
  var leaving = false;
  var refused = false;

  function say(text, kind) {
    var li = document.createElement('li');
    li.textContent = text;
    if (kind) { li.className = kind; }
    log.appendChild(li);
    while (log.children.length > 500) { log.removeChild(log.firstChild); }
    li.scrollIntoView({ block: 'nearest' });
  }
  function tell(text, bad) {
    status.hidden = false;
    status.textContent = text;
    status.className = bad ? 'error' : 'notice';
  }
  function send(message) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(message)); }
  }
  function showRoom() {
    $('chat-current').textContent = current || '(none)';
    $('chat-me').textContent = me;
  }
  function renderRooms(list) {
    rooms.textContent = '';
    list.forEach(function (name) {
      var li = document.createElement('li');
      var label = document.createElement('span');
      label.textContent = name + (name === current ? ' (you are here)' : '');
      li.appendChild(label);
      if (name !== current) {
        var enter = document.createElement('button');
        enter.type = 'button';
        enter.className = 'link';
        enter.textContent = 'Join';
        enter.setAttribute('aria-label', 'Join ' + name);
        enter.addEventListener('click', function () { send({ type: 'joinroom', roomid: name }); });
        li.appendChild(enter);
      }
      if (name === owned) {
        var drop = document.createElement('button');
        drop.type = 'button';
        drop.className = 'link';
        drop.textContent = 'Delete';
        drop.setAttribute('aria-label', 'Delete ' + name);
        drop.addEventListener('click', function () { send({ type: 'deleteroom', roomid: name }); });
        li.appendChild(drop);
      }
      rooms.appendChild(li);
    });
  }

  function receive(m) {
    switch (m.type) {
      case 'newidentity':
        if (String(m.approved).toLowerCase() === 'true') {
          tell('Connected as ' + me + ' to server ' + server + '.');
          join.hidden = true;
          room.hidden = false;
          send({ type: 'list' });
          if (wanted) { send({ type: 'createroom', roomid: wanted }); }
          $('chat-message').focus();
        } else {
          refused = true;
          tell(me + ' is already in use or not allowed: choose another identity.', true);
        }
        break;
      case 'roomchange':
        if (m.identity === me) {
          current = m.roomid;
          showRoom();
        }
        if (m.roomid === '') {
          say(m.identity + ' has quit!');
        } else if (m.former === '') {
          say(m.identity + ' moves to ' + m.roomid);
        } else if (m.former === m.roomid) {
          say('room unchanged');
        } else {
          say(m.identity + ' moves from ' + m.former + ' to ' + m.roomid);
        }
        if (m.identity === me && m.roomid !== '') { send({ type: 'list' }); }
        break;
      case 'roomlist':
        renderRooms(m.rooms || []);
        break;
      case 'roomcontents':
        say(m.roomid + ' contains ' + (m.identities || []).map(function (id) {
          return id === m.owner ? id + '*' : id;
        }).join(' '));
        break;
      case 'createroom':
        if (String(m.approved).toLowerCase() === 'true') {
          owned = m.roomid;
          say('Room ' + m.roomid + ' is created.');
        } else if (m.roomid === wanted) {
          // Made already (by another participant): enter it.
          send({ type: 'joinroom', roomid: wanted });
        } else {
          say('Create room ' + m.roomid + ' failed.', 'error');
        }
        if (m.roomid === wanted) { wanted = ''; }
        break;
      case 'deleteroom':
        if (String(m.approved).toLowerCase() === 'true') {
          if (owned === m.roomid) { owned = ''; }
          say('Room ' + m.roomid + ' is deleted.');
        } else {
          say('Delete room ' + m.roomid + ' failed.', 'error');
        }
        send({ type: 'list' });
        break;
      case 'message':
        say(m.identity + ': ' + m.content);
        break;
      case 'route':
        // The room lives on another server: the web front has connected
        // there for us; ask to move, as client.jar does.
        say(m.roomid + ' is on another server; moving there…');
        send({ type: 'movejoin', identity: me, former: current, roomid: m.roomid });
        break;
      case 'serverchange':
        if (String(m.approved).toLowerCase() === 'true') {
          server = m.serverid;
          owned = '';
          say(me + ' switches to server ' + m.serverid);
          tell('Connected as ' + me + ' to server ' + server + '.');
        } else {
          say('Server change failed', 'error');
        }
        break;
      case 'error':
        say('Error: ' + m.reason, 'error');
        break;
      default:
        break;
    }
  }

  join.addEventListener('submit', function (event) {
    event.preventDefault();
    if (ws) { return; }
    me = $('chat-identity').value.trim();
    current = '';
    owned = '';
    leaving = false;
    refused = false;
    server = join.getAttribute('data-server') || '';
    var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    tell('Connecting…');
    ws = new WebSocket(scheme + location.host + '/api/chat');
    ws.addEventListener('open', function () { send({ type: 'newidentity', identity: me }); });
    ws.addEventListener('message', function (event) {
      var m;
      try { m = JSON.parse(event.data); } catch (e) { return; }
      if (m && typeof m.type === 'string') { receive(m); }
    });
    ws.addEventListener('close', function (event) {
      ws = null;
      join.hidden = false;
      room.hidden = true;
      if (leaving) {
        tell('You left the chat.');
      } else if (refused) {
        $('chat-identity').focus();
      } else {
        tell('Disconnected' + (event.reason ? ': ' + event.reason : '') + '.', true);
      }
    });
  });
  $('chat-send').addEventListener('submit', function (event) {
    event.preventDefault();
    var box = $('chat-message');
    var text = box.value;
    if (!text) { return; }
    send({ type: 'message', content: text });
    say(me + ': ' + text, 'mine');
    box.value = '';
    box.focus();
  });
  $('chat-create').addEventListener('submit', function (event) {
    event.preventDefault();
    var name = $('chat-new-room').value.trim();
    if (name) { send({ type: 'createroom', roomid: name }); }
    $('chat-new-room').value = '';
  });
  $('chat-list').addEventListener('click', function () { send({ type: 'list' }); });
  $('chat-who').addEventListener('click', function () { send({ type: 'who' }); });
  $('chat-quit').addEventListener('click', function () {
    leaving = true;
    send({ type: 'quit' });
  });
})();
