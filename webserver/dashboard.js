// The dashboard (dashboard.html): follows the coordinator's one event stream
// (`GET /events`, a snapshot a second), keeps 15 minutes of history, and draws the
// plots and tables. EventSource reconnects by itself after a dropped connection; a
// refused one (503: too many dashboards open) is tried again after a pause.

import { History } from './dashboard-history.js';
import { Plots } from './dashboard-plots.js';
import { DashboardView } from './dashboard-view.js';

/** Pause before opening the stream again after the coordinator refused it. */
const RETRY_MS = 5000;

const history = new History();
const view = new DashboardView();
const plots = new Plots(history);
/** Snapshots drawn so far (the browser tests read it). */
window.dashboard = { snapshots: 0, plots, history };

function follow() {
  view.connection('connecting');
  const events = new EventSource('events');
  events.addEventListener('open', () => view.connection('live'));
  events.addEventListener('snapshot', (event) => {
    const snapshot = JSON.parse(event.data);
    const point = history.add(snapshot);
    view.show(snapshot, point);
    plots.draw();
    window.dashboard.snapshots += 1;
  });
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) {
      view.connection('disconnected', `trying again in ${RETRY_MS / 1000} s`);
      setTimeout(follow, RETRY_MS);
    } else {
      view.connection('connecting', 'connection lost');
    }
  });
}

window.addEventListener('resize', () => plots.resize());
follow();
