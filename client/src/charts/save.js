// Saving a chart of the day (hallq report, the console's charts tab): the
// SVG as it is, a PNG drawn from it on a canvas, the data as CSV. All in
// the page: nothing is fetched, so a mailed report saves offline too.
(function () {
  'use strict';
  function save(name, blob) {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function svgText(figure) {
    const svg = figure.querySelector('svg');
    if (!svg.getAttribute('xmlns')) svg.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
    return new XMLSerializer().serializeToString(svg);
  }
  // The PNG at twice the chart's size (sharp when printed or pasted into a
  // document); white behind it, as on the page.
  function png(figure) {
    return new Promise(function (resolve, reject) {
      const svg = figure.querySelector('svg');
      const w = Number(svg.getAttribute('width')) || 720;
      const h = Number(svg.getAttribute('height')) || 300;
      const img = new Image();
      img.onload = function () {
        const canvas = document.createElement('canvas');
        canvas.width = w * 2;
        canvas.height = h * 2;
        const g = canvas.getContext('2d');
        g.fillStyle = '#fff';
        g.fillRect(0, 0, canvas.width, canvas.height);
        g.drawImage(img, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) { blob ? resolve(blob) : reject(new Error('no PNG')); }, 'image/png');
      };
      img.onerror = function () { reject(new Error('the SVG did not load as an image')); };
      img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svgText(figure));
    });
  }
  window.hallqChartPng = png;
  document.addEventListener('click', function (e) {
    const button = e.target.closest('[data-save]');
    if (!button) return;
    const figure = button.closest('figure');
    const name = figure.dataset.file;
    const kind = button.dataset.save;
    if (kind === 'csv') {
      // A BOM first: Excel reads a CSV without one in the ANSI code page.
      const text = figure.querySelector('.csv').textContent;
      save(name + '.csv', new Blob(['\ufeff' + text], { type: 'text/csv;charset=utf-8' }));
    } else if (kind === 'svg') {
      save(name + '.svg', new Blob([svgText(figure)], { type: 'image/svg+xml' }));
    } else if (kind === 'png') {
      png(figure).then(function (blob) {
        figure.dataset.png = String(blob.size);
        save(name + '.png', blob);
      }, function (err) { figure.dataset.png = 'error: ' + err.message; });
    }
  });
})();
