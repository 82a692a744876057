// The dashboard's four plots (uPlot, vendored in vendor/uplot/): queue depth by
// state, tasks completed per second, end-to-end latency p50/p99, GFLOP/s delivered.
// Each plot reads its columns of the history; `draw` redraws them all.

import uPlot from './vendor/uplot/uPlot.esm.js';

/** What each plot shows: its element id, title, unit and series (history columns). */
const PLOTS = [
  { id: 'plot-queue', title: 'Tasks by state', unit: 'tasks', series: [['pending', 'pending'], ['processing', 'processing'], ['held', 'held']] },
  { id: 'plot-rate', title: 'Tasks completed per second', unit: 'tasks/s', series: [['tasksPerSec', 'completed/s']] },
  { id: 'plot-latency', title: 'End-to-end time (last 10 s)', unit: 'ms', series: [['p50Ms', 'p50'], ['p99Ms', 'p99']] },
  { id: 'plot-gflops', title: 'GFLOP/s delivered', unit: 'GFLOP/s', series: [['gflops', 'GFLOP/s']] },
];

const COLOURS = ['#2357d6', '#d0721b', '#1d7a3a'];

/** Height of one plot, in CSS pixels. */
const HEIGHT = 180;

/** The plots of one dashboard. */
export class Plots {
  /**
   * @param {import('./dashboard-history.js').History} history
   * @param {Document} doc
   */
  constructor(history, doc = document) {
    this.history = history;
    const style = getComputedStyle(doc.documentElement);
    const text = style.getPropertyValue('--muted').trim() || '#5d6677';
    const grid = style.getPropertyValue('--line').trim() || '#d9dde5';
    this.plots = PLOTS.map((spec) => {
      const el = doc.getElementById(spec.id);
      const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const plot = new uPlot(
        {
          title: spec.title,
          width: this.widthOf(el),
          height: HEIGHT,
          scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1)] } },
          axes: [axis, { ...axis, label: spec.unit, size: 56 }],
          series: [
            {},
            ...spec.series.map(([, label], i) => ({ label, stroke: COLOURS[i], width: 2, spanGaps: false })),
          ],
          legend: { live: false },
        },
        history.data(spec.series.map(([name]) => name)),
        el,
      );
      return { spec, el, plot };
    });
    this.draws = 0;
  }

  /** The width a plot gets in `el`. */
  widthOf(el) {
    return Math.max(240, Math.floor(el.clientWidth || 480));
  }

  /** Redraws every plot from the history. */
  draw() {
    for (const { spec, plot } of this.plots) plot.setData(this.history.data(spec.series.map(([name]) => name)));
    this.draws += 1;
  }

  /** Fits the plots to their boxes (after the window was resized). */
  resize() {
    for (const { el, plot } of this.plots) plot.setSize({ width: this.widthOf(el), height: HEIGHT });
  }
}
