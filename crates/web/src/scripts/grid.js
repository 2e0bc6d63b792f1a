// Paint an availability grid by dragging, as in When2meet: press on a
// cell, move over others, let go. The cells are checkboxes, so the grid
// also works by keyboard (Tab, Space) and without this script at all.
(function () {
  var grid = document.querySelector('[data-paint]');
  if (!grid) { return; }
  var painting = null;
  function boxOf(el) {
    if (!el || !grid.contains(el)) { return null; }
    if (el.tagName === 'INPUT' && el.type === 'checkbox') { return el; }
    var label = el.closest ? el.closest('label[for]') : null;
    return label ? document.getElementById(label.htmlFor) : null;
  }
  grid.addEventListener('pointerdown', function (e) {
    var box = boxOf(e.target);
    if (!box || e.button !== 0) { return; }
    e.preventDefault();
    painting = !box.checked;
    box.checked = painting;
  });
  grid.addEventListener('pointermove', function (e) {
    if (painting === null) { return; }
    var box = boxOf(document.elementFromPoint(e.clientX, e.clientY));
    if (box) { box.checked = painting; }
  });
  function stop() { painting = null; }
  document.addEventListener('pointerup', stop);
  document.addEventListener('pointercancel', stop);
  // A mouse click on a label would toggle its box again after the press
  // painted it; a click from the keyboard (detail 0) still toggles.
  grid.addEventListener('click', function (e) {
    if (e.detail > 0 && boxOf(e.target)) { e.preventDefault(); }
  });
})();
