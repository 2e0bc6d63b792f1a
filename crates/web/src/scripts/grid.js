// Paint an availability grid by dragging, as in When2meet: press on a
// cell, drag to another, let go; every cell of the rectangle between the
// two takes the first cell's new state (a fast drag skips no cell), and
// cells outside it keep what they had. The cells are checkboxes, so the
// grid also works by keyboard (Tab, Space) and without this script.
(function () {
  var grid = document.querySelector('[data-paint]');
  if (!grid) { return; }
  var boxes = Array.prototype.slice.call(grid.querySelectorAll('input[type=checkbox]'));
  var drag = null;
  function boxOf(el) {
    if (!el || !grid.contains(el)) { return null; }
    if (el.tagName === 'INPUT' && el.type === 'checkbox') { return el; }
    var label = el.closest ? el.closest('label[for]') : null;
    return label ? document.getElementById(label.htmlFor) : null;
  }
  function place(box) {
    var cell = box.closest('td');
    return { row: cell.parentNode.rowIndex, col: cell.cellIndex };
  }
  function paintTo(box) {
    var a = drag.anchor, b = place(box);
    var top = Math.min(a.row, b.row), bottom = Math.max(a.row, b.row);
    var left = Math.min(a.col, b.col), right = Math.max(a.col, b.col);
    boxes.forEach(function (other, i) {
      var p = place(other);
      var inside = p.row >= top && p.row <= bottom && p.col >= left && p.col <= right;
      other.checked = inside ? drag.value : drag.before[i];
    });
  }
  grid.addEventListener('pointerdown', function (e) {
    var box = boxOf(e.target);
    if (!box || e.button !== 0) { return; }
    e.preventDefault();
    drag = {
      anchor: place(box),
      value: !box.checked,
      before: boxes.map(function (b) { return b.checked; })
    };
    paintTo(box);
  });
  grid.addEventListener('pointermove', function (e) {
    if (!drag) { return; }
    var box = boxOf(document.elementFromPoint(e.clientX, e.clientY));
    if (box) { paintTo(box); }
  });
  function stop() { drag = null; }
  document.addEventListener('pointerup', stop);
  document.addEventListener('pointercancel', stop);
  // A mouse click on a label would toggle its box again after the press
  // painted it; a click from the keyboard (detail 0) still toggles.
  grid.addEventListener('click', function (e) {
    if (e.detail > 0 && boxOf(e.target)) { e.preventDefault(); }
  });
})();
