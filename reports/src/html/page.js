(function () {
  'use strict';
  var root = document.documentElement;
  root.classList.add('js');
  var panel = document.getElementById('panel');
  var selected = null;
  function openRun(id) {
    var d = document.getElementById(id);
    if (!d || !d.classList.contains('detail')) { return; }
    panel.querySelectorAll('.detail.shown').forEach(function (x) { x.classList.remove('shown'); });
    d.classList.add('shown');
    panel.classList.add('open');
    panel.scrollTop = 0;
    if (selected) { selected.classList.remove('selected'); }
    selected = document.querySelector('td.cell[data-run="' + d.getAttribute('data-run') + '"]');
    if (selected) { selected.classList.add('selected'); }
    if (history.replaceState) { history.replaceState(null, '', '#' + id); }
  }
  function closePanel() {
    panel.classList.remove('open');
    if (selected) { selected.classList.remove('selected'); selected = null; }
    if (history.replaceState) { history.replaceState(null, '', location.pathname + location.search); }
  }
  document.addEventListener('click', function (e) {
    var t = e.target;
    if (!(t instanceof Element)) { return; }
    if (t.closest('#panel .close')) { e.preventDefault(); closePanel(); return; }
    var link = t.closest('a.open');
    var cell = t.closest('td.cell[data-run]');
    if (link) { e.preventDefault(); openRun(link.getAttribute('href').slice(1)); }
    else if (cell) { e.preventDefault(); openRun('run-' + cell.getAttribute('data-run')); }
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') { closePanel(); } });
  if (location.hash.length > 1) { openRun(decodeURIComponent(location.hash.slice(1))); }

  var form = document.getElementById('filters');
  var impl = document.getElementById('f-impl');
  var only = document.getElementById('f-unexpected');
  var status = document.getElementById('f-status');
  var noMatch = document.getElementById('no-match');
  var cols = Array.prototype.slice.call(document.querySelectorAll('table.compat thead th.col'));
  function apply() {
    var want = impl.value;
    var outcomes = {};
    form.querySelectorAll('input[name=outcome]').forEach(function (i) { outcomes[i.value] = i.checked; });
    var shownCols = cols.map(function (th) {
      return !want || th.getAttribute('data-offerer') === want || th.getAttribute('data-answerer') === want;
    });
    cols.forEach(function (th, i) { th.classList.toggle('col-hidden', !shownCols[i]); });
    document.querySelectorAll('table.compat thead th.offerer-group').forEach(function (th) {
      var n = 0;
      cols.forEach(function (c, i) { if (shownCols[i] && c.getAttribute('data-group') === th.getAttribute('data-group')) { n++; } });
      th.colSpan = Math.max(n, 1);
      th.classList.toggle('col-hidden', n === 0);
    });
    var shown = 0, total = 0;
    document.querySelectorAll('table.compat tbody.feature').forEach(function (tb) {
      var any = false;
      tb.querySelectorAll('tr.scenario').forEach(function (tr) {
        var rowShown = false;
        tr.querySelectorAll('td.cell').forEach(function (td) {
          var colShown = shownCols[+td.getAttribute('data-col')];
          td.classList.toggle('col-hidden', !colShown);
          if (!td.hasAttribute('data-scenario')) { return; }
          total++;
          var ok = colShown && outcomes[td.getAttribute('data-outcome')] !== false &&
            (!only.checked || td.getAttribute('data-unexpected') === 'true');
          td.classList.toggle('filtered', !ok);
          if (ok) { rowShown = true; shown++; }
        });
        tr.hidden = !rowShown;
        any = any || rowShown;
      });
      tb.hidden = !any;
      tb.querySelectorAll('tr.group td[data-col]').forEach(function (td) {
        td.classList.toggle('col-hidden', !shownCols[+td.getAttribute('data-col')]);
      });
    });
    if (status) { status.textContent = 'showing ' + shown + ' of ' + total + ' runs'; }
    if (noMatch) { noMatch.hidden = shown > 0 || total === 0; }
  }
  if (form) {
    form.addEventListener('change', apply);
    form.addEventListener('submit', function (e) { e.preventDefault(); });
    form.addEventListener('reset', function () { setTimeout(apply, 0); });
    apply();
  }
})();
