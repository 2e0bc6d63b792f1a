// Runs the /chat page's script (crates/web/src/scripts/chat.js) under Node
// against a real node, with a stand-in for the few DOM calls it makes, so
// a test can drive the page's buttons and read what it shows without a
// browser. Node >= 20 with --experimental-websocket (22+ has WebSocket
// built in).
//
// Environment: WEB (host:port of the web front), TOKEN (a session token,
// sent as `Authorization: Bearer`, as a browser sends its cookie), SERVER
// (the node's chat server id, the page's data-server), SCRIPT (chat.js).
//
// stdin, one command a line: `connect ID`, `create ROOM`, `join ROOM`,
// `delete ROOM`, `send TEXT`, `list`, `who`, `quit`.
// stdout: `LOG <line of the message log>`, `STATUS <status line>`,
// `ROOM <current room>`, `ROOMS <room list, comma separated>`, each when
// it changes.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

class El {
  constructor(tag) {
    this.tagName = tag;
    this.children = [];
    this.listeners = {};
    this.attrs = {};
    this.hidden = false;
    this.value = '';
    this.text = '';
    this.className = '';
    this.type = '';
  }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(' '); }
  set textContent(t) { this.text = String(t); this.children = []; }
  appendChild(c) { this.children.push(c); return c; }
  removeChild(c) { this.children.splice(this.children.indexOf(c), 1); }
  get firstChild() { return this.children[0]; }
  addEventListener(type, f) { (this.listeners[type] ||= []).push(f); }
  fire(type) { (this.listeners[type] || []).forEach((f) => f({ preventDefault() {} })); }
  getAttribute(n) { return n in this.attrs ? this.attrs[n] : null; }
  setAttribute(n, v) { this.attrs[n] = String(v); }
  scrollIntoView() {}
  focus() {}
}

const elements = {};
const el = (id) => (elements[id] ||= new El(id));
el('chat-join').setAttribute('data-server', process.env.SERVER || '');
el('chat-room').hidden = true;
globalThis.document = { getElementById: el, createElement: (t) => new El(t) };
globalThis.location = { protocol: 'http:', host: process.env.WEB };
const NodeSocket = globalThis.WebSocket;
globalThis.WebSocket = class extends NodeSocket {
  constructor(url) {
    super(url, { headers: { authorization: 'Bearer ' + process.env.TOKEN } });
  }
};
new Function(readFileSync(process.env.SCRIPT, 'utf8'))();

// Report what the page shows as it changes.
let logged = 0;
let last = {};
setInterval(() => {
  const log = el('chat-log').children;
  for (; logged < log.length; logged++) { console.log('LOG ' + log[logged].textContent); }
  const now = {
    STATUS: el('chat-status').textContent,
    ROOM: el('chat-current').textContent,
    ROOMS: el('chat-rooms').children.map((li) => li.children[0].textContent).join(','),
  };
  for (const k of Object.keys(now)) {
    if (now[k] !== last[k]) { console.log(k + ' ' + now[k]); }
  }
  last = now;
}, 20);

function button(label) {
  return el('chat-rooms').children
    .flatMap((li) => li.children)
    .find((b) => b.getAttribute('aria-label') === label);
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  switch (command) {
    case 'connect': el('chat-identity').value = arg; el('chat-join').fire('submit'); break;
    case 'create': el('chat-new-room').value = arg; el('chat-create').fire('submit'); break;
    case 'send': el('chat-message').value = arg; el('chat-send').fire('submit'); break;
    case 'join': (button('Join ' + arg) || { fire() { console.log('LOG no Join ' + arg); } }).fire('click'); break;
    case 'delete': (button('Delete ' + arg) || { fire() { console.log('LOG no Delete ' + arg); } }).fire('click'); break;
    case 'list': el('chat-list').fire('click'); break;
    case 'who': el('chat-who').fire('click'); break;
    case 'quit': el('chat-quit').fire('click'); break;
    case 'exit': process.exit(0); break;
    default: console.log('LOG unknown command ' + command);
  }
});
